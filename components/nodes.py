"""A pool of identical instances: one flavor, one image, one cloud-init document.

Every node gets one port per attachment (the first is primary: routed, carries the node's
address), so security groups are set per network and no instance ever sits on the external
network; an optional data volume is attached per node. Nodes are numbered `0..count-1`; scaling
out appends nodes, scaling in removes the highest numbers, leaving the others untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_openstack as openstack

TYPE_TOKEN = "deepcube:nodes:NodePool"


@dataclass(frozen=True)
class PortAttachment:
    """One NIC of every node in the pool."""

    label: str
    """Short name used in resource names, e.g. the network role (swarm, data, eodata)."""
    network_id: pulumi.Input[str]
    """Network the port is created on (a private role network or a provider network)."""
    security_group_ids: Sequence[pulumi.Input[str]]
    """Groups on this port; always explicit, so the project's default group never applies."""


@dataclass(frozen=True)
class NodePoolArgs:
    """Inputs of a node pool."""

    role: str
    """Role recorded in metadata and tags, e.g. swarm-manager or hopsworks-gpu."""
    count: int
    """Number of nodes (0 allowed)."""
    flavor: str
    """OpenStack flavor name."""
    image: str
    """OpenStack image name."""
    key_pair: pulumi.Input[str]
    """Nova key pair name injected into every node."""
    user_data: pulumi.Input[str]
    """Cloud-init document (same for the whole pool)."""
    attachments: Sequence[PortAttachment]
    """NICs in order; the first one is primary."""
    volume_size_gb: int = 0
    """Size of the per-node data volume; 0 for none."""
    metadata: dict[str, str] = field(default_factory=dict)
    """Instance metadata (project, stack, cloud...) merged with the role."""
    first_node_extra_groups: Sequence[pulumi.Input[str]] = ()
    """Additional groups on node 0's primary port only (e.g. the gateway)."""
    all_nodes_extra_groups: Sequence[pulumi.Input[str]] = ()
    """Additional groups on every node's primary port."""


class NodePool(pulumi.ComponentResource):
    """`count` instances with their ports and volumes."""

    instances: list[openstack.compute.Instance]
    primary_ports: list[openstack.networking.Port]
    addresses: list[pulumi.Output[str]]
    addresses_on: dict[str, list[pulumi.Output[str]]]
    """Attachment label (e.g. `data`, `interlink`) -> every node's address on that network."""
    hostnames: list[str]

    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if not args.attachments:
            raise ValueError(f"{name}: a node pool needs at least one network attachment")
        metadata = {**args.metadata, "role": args.role}
        tags = sorted({f"{key}={value}" for key, value in metadata.items()})
        self.instances, self.primary_ports, self.addresses, self.hostnames = [], [], [], []
        self.addresses_on = {attachment.label: [] for attachment in args.attachments}
        for index in range(args.count):
            node = f"{name}-{index}"
            ports = []
            for position, attachment in enumerate(args.attachments):
                groups = list(attachment.security_group_ids)
                if position == 0:
                    groups += list(args.all_nodes_extra_groups)
                    if index == 0:
                        groups += list(args.first_node_extra_groups)
                ports.append(
                    openstack.networking.Port(
                        f"{node}-{attachment.label}",
                        name=f"{node}-{attachment.label}",
                        network_id=attachment.network_id,
                        admin_state_up=True,
                        security_group_ids=groups,
                        tags=tags,
                        opts=child,
                    )
                )
            instance = openstack.compute.Instance(
                node,
                name=node,
                flavor_name=args.flavor,
                image_name=args.image,
                key_pair=args.key_pair,
                user_data=args.user_data,
                networks=[openstack.compute.InstanceNetworkArgs(port=port.id) for port in ports],
                metadata=metadata,
                tags=tags,
                # A new cloud-init document applies to new nodes; existing nodes are not rebuilt
                # (replace one explicitly with `pulumi up --replace URN`).
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["user_data"]),
            )
            if args.volume_size_gb > 0:
                volume = openstack.blockstorage.Volume(
                    f"{node}-data",
                    name=f"{node}-data",
                    size=args.volume_size_gb,
                    metadata=metadata,
                    opts=child,
                )
                openstack.compute.VolumeAttach(
                    f"{node}-data", instance_id=instance.id, volume_id=volume.id, opts=child
                )
            self.instances.append(instance)
            self.primary_ports.append(ports[0])
            self.addresses.append(ports[0].all_fixed_ips[0])
            for attachment, port in zip(args.attachments, ports, strict=True):
                self.addresses_on[attachment.label].append(port.all_fixed_ips[0])
            self.hostnames.append(node)
        self.register_outputs({"addresses": self.addresses})
