"""Private networks per role, one router to the cloud's external network.

One network and subnet per role keeps traffic classes apart (swarm overlay transport, Hopsworks,
data, the link between the clusters); security groups can then allow by subnet. Routed roles get
a gateway and a router interface; unrouted roles are private links without a gateway, so a
node's second NIC never installs a second default route (the routing failure seen on CreoDIAS).
Provider networks that nodes attach to directly (CreoDIAS `eodata`) are looked up by name.

The networks' MTU is the cloud's (a tenant network carried over VXLAN/GRE usually gets 1450): it is
not declared here (setting it needs Neutron's `net-mtu-writable` extension, which not every cloud
has), but stated per stack (`network.mtu`) and read by what must fit into it: Docker's overlay
networks add a VXLAN header (`VXLAN_OVERHEAD`) to every packet, so they get `overlay_mtu(mtu)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_openstack as openstack

TYPE_TOKEN = "deepcube:network:PlatformNetwork"
DEFAULT_MTU = 1450
"""MTU of an OpenStack tenant network whose traffic the cloud itself carries over VXLAN."""
VXLAN_OVERHEAD = 50
"""Bytes Docker's overlay driver adds to each packet: VXLAN, UDP, IPv4 and the inner Ethernet header."""
MTU_OPTION = "com.docker.network.driver.mtu"
"""Docker network driver option (overlay and bridge) setting the network's MTU."""


def overlay_mtu(node_mtu: int) -> int:
    """The largest MTU a Docker overlay network on a node network of `node_mtu` can use: a bigger
    packet, once wrapped in VXLAN, no longer fits the node's network and is dropped without notice."""
    if node_mtu - VXLAN_OVERHEAD < 576:
        raise ValueError(f"a node network MTU of {node_mtu} leaves no room for Docker's overlay networks")
    return node_mtu - VXLAN_OVERHEAD


@dataclass(frozen=True)
class RoleSubnet:
    """One role's subnet."""

    cidr: str
    """IPv4 CIDR of the subnet."""
    routed: bool = True
    """Attach to the router (gateway + SNAT); False for a private link without gateway."""


@dataclass(frozen=True)
class PlatformNetworkArgs:
    """Inputs of the platform network."""

    external_network: str
    """Name of the cloud's external network (OVH: Ext-Net, CreoDIAS: external)."""
    roles: dict[str, RoleSubnet]
    """Role name -> subnet; one private network per role."""
    dns_servers: list[str]
    """Resolvers announced on every subnet."""
    provider_networks: list[str] = field(default_factory=list)
    """Names of existing provider networks nodes attach to (e.g. eodata); looked up, not created."""


class PlatformNetwork(pulumi.ComponentResource):
    """Per-role private networks and subnets; routed ones behind one router with SNAT."""

    networks: dict[str, openstack.networking.Network]
    subnets: dict[str, openstack.networking.Subnet]
    router: openstack.networking.Router
    router_interfaces: list[openstack.networking.RouterInterface]
    external_network_id: pulumi.Output[str]
    provider_network_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: PlatformNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        external = openstack.networking.get_network_output(name=args.external_network, opts=invoke)
        self.external_network_id = external.id
        self.provider_network_ids = {
            net: openstack.networking.get_network_output(name=net, opts=invoke).id
            for net in sorted(set(args.provider_networks))
        }
        self.router = openstack.networking.Router(
            f"{name}-router",
            name=f"{name}-router",
            admin_state_up=True,
            external_network_id=external.id,
            opts=child,
        )
        self.networks = {}
        self.subnets = {}
        self.router_interfaces = []
        for role, spec in sorted(args.roles.items()):
            network = openstack.networking.Network(
                f"{name}-{role}", name=f"{name}-{role}", admin_state_up=True, opts=child
            )
            subnet = openstack.networking.Subnet(
                f"{name}-{role}",
                name=f"{name}-{role}",
                network_id=network.id,
                cidr=spec.cidr,
                ip_version=4,
                enable_dhcp=True,
                no_gateway=not spec.routed,
                dns_nameservers=args.dns_servers,
                opts=child,
            )
            if spec.routed:
                self.router_interfaces.append(
                    openstack.networking.RouterInterface(
                        f"{name}-{role}", router_id=self.router.id, subnet_id=subnet.id, opts=child
                    )
                )
            self.networks[role] = network
            self.subnets[role] = subnet
        self.register_outputs(
            {
                "router_id": self.router.id,
                "network_ids": {role: net.id for role, net in self.networks.items()},
            }
        )
