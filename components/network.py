"""Private networks per role, one router to the cloud's external network.

One network and subnet per role keeps traffic classes apart (swarm overlay transport, Hopsworks,
data, the link between the clusters); security groups can then allow by subnet.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_openstack as openstack

TYPE_TOKEN = "deepcube:network:PlatformNetwork"


@dataclass(frozen=True)
class PlatformNetworkArgs:
    """Inputs of the platform network."""

    external_network: str
    """Name of the cloud's external network (OVH: Ext-Net, CreoDIAS: external)."""
    roles: dict[str, str]
    """Role name -> subnet CIDR; one private network per role."""
    dns_servers: list[str]
    """Resolvers announced on every subnet."""


class PlatformNetwork(pulumi.ComponentResource):
    """Per-role private networks and subnets, all routed through one router with SNAT."""

    networks: dict[str, openstack.networking.Network]
    subnets: dict[str, openstack.networking.Subnet]
    router: openstack.networking.Router

    def __init__(self, name: str, args: PlatformNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        external = openstack.networking.get_network_output(
            name=args.external_network, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self.router = openstack.networking.Router(
            f"{name}-router",
            name=f"{name}-router",
            admin_state_up=True,
            external_network_id=external.id,
            opts=child,
        )
        self.networks = {}
        self.subnets = {}
        for role, cidr in sorted(args.roles.items()):
            network = openstack.networking.Network(
                f"{name}-{role}", name=f"{name}-{role}", admin_state_up=True, opts=child
            )
            subnet = openstack.networking.Subnet(
                f"{name}-{role}",
                name=f"{name}-{role}",
                network_id=network.id,
                cidr=cidr,
                ip_version=4,
                dns_nameservers=args.dns_servers,
                opts=child,
            )
            openstack.networking.RouterInterface(
                f"{name}-{role}", router_id=self.router.id, subnet_id=subnet.id, opts=child
            )
            self.networks[role] = network
            self.subnets[role] = subnet
        self.register_outputs(
            {
                "router_id": self.router.id,
                "network_ids": {role: net.id for role, net in self.networks.items()},
            }
        )
