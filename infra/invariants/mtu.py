"""Invariant: Docker's overlay networks fit into the node networks that carry them.

An overlay network wraps every packet in VXLAN (`components.network.VXLAN_OVERHEAD`, 50 bytes) and
sends it over the nodes' own network. A packet that fits the overlay's MTU but no longer fits the
node network once wrapped is dropped without an error: small requests work, large answers hang. So:
- every overlay `docker:index/network:Network` sets its MTU (`com.docker.network.driver.mtu`;
  without it Docker uses 1500) to at most the node networks' MTU less the VXLAN header;
- every swarm node's Docker (the `/etc/docker/daemon.json` its cloud-init writes) gives overlay
  networks created without that option the same bound (`default-network-opts`), and its default
  bridge (`mtu`) at most the node network's MTU.
The node networks' MTU is the smallest `mtu` a Neutron network of the swarm's nodes declares, or else
the stack's `network.mtu` (the cloud's own, 1450 when the stack says nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from components.network import DEFAULT_MTU, MTU_OPTION, VXLAN_OVERHEAD, overlay_mtu
from infra.invariants.topology import DOCKER_NETWORK, INSTANCE, PORT, read_topology
from infra.manifest import ResourceRecord
from infra.policy_model import PolicyContext, Violation

POLICY = "overlay-mtu"
NEUTRON_NETWORK = "openstack:networking/network:Network"
DOCKER_DEFAULT_MTU = 1500
"""What Docker gives a network (and its default bridge) that sets no MTU."""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def stack_mtu(ctx: PolicyContext) -> int:
    """`network.mtu` of the stack config, or the default the config model applies."""
    network = ctx.stack_config.get("network")
    value = _int(network.get("mtu")) if isinstance(network, Mapping) else None
    return value if value is not None else DEFAULT_MTU


def node_network_mtu(records: Sequence[ResourceRecord], ctx: PolicyContext) -> int:
    """The smallest MTU among the Neutron networks the swarm's nodes have ports on: a declared `mtu`
    where a network states one, the stack's `network.mtu` for the others."""
    by_urn = {record.urn: record for record in records}
    fallback = stack_mtu(ctx)
    mtus = []
    for record in records:
        role = str((record.inputs.get("metadata") or {}).get("role", ""))
        if record.type != INSTANCE or not role.startswith("swarm-"):
            continue
        for port_urn in record.property_dependencies.get("networks", []):
            port = by_urn.get(port_urn)
            if port is None or port.type != PORT:
                continue
            for network_urn in port.property_dependencies.get("networkId", []):
                network = by_urn.get(network_urn)
                if network is not None and network.type == NEUTRON_NETWORK:
                    declared = _int(network.inputs.get("mtu"))
                    mtus.append(declared if declared is not None else fallback)
    return min(mtus, default=fallback)


def _limit_text(node_mtu: int) -> str:
    limit = overlay_mtu(node_mtu)
    return f"{limit} (the node network's {node_mtu} less the {VXLAN_OVERHEAD}-byte VXLAN header)"


def _overlay_faults(record: ResourceRecord, node_mtu: int) -> list[str]:
    name = record.inputs.get("name", record.name)
    options = record.inputs.get("options") or {}
    raw = options.get(MTU_OPTION) if isinstance(options, Mapping) else None
    if raw is None:
        limit = _limit_text(node_mtu)
        return [f"overlay network {name} sets no MTU: Docker's {DOCKER_DEFAULT_MTU} exceeds {limit}"]
    mtu = _int(raw)
    if mtu is None:
        return [f"overlay network {name}: {MTU_OPTION}={raw!r} is not a number"]
    if mtu > overlay_mtu(node_mtu):
        return [f"overlay network {name} has MTU {mtu}, above {_limit_text(node_mtu)}"]
    return []


def _daemon_faults(daemon: Mapping[str, Any], node_mtu: int) -> list[str]:
    faults = []
    defaults = daemon.get("default-network-opts")
    overlay = defaults.get("overlay") if isinstance(defaults, Mapping) else None
    raw = overlay.get(MTU_OPTION) if isinstance(overlay, Mapping) else None
    value = raw if raw is not None else DOCKER_DEFAULT_MTU
    if _int(value) is None or int(value) > overlay_mtu(node_mtu):
        source = "daemon.json default-network-opts" if raw is not None else "daemon.json sets none"
        faults.append(
            f"Docker's MTU for new overlay networks is {value} ({source}), above {_limit_text(node_mtu)}"
        )
    raw = daemon.get("mtu")
    value = raw if raw is not None else DOCKER_DEFAULT_MTU
    if _int(value) is None or int(value) > node_mtu:
        source = "daemon.json mtu" if raw is not None else "daemon.json sets none"
        faults.append(
            f"Docker's default bridge MTU is {value} ({source}), above the node network's {node_mtu}"
        )
    return faults


def overlays_fit_node_networks(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """Every overlay network's MTU, and every swarm node's default for new ones, is at most the node
    network's MTU less the VXLAN header (see module doc)."""
    node_mtu = node_network_mtu(records, ctx)
    violations = [
        Violation(POLICY, record.urn, fault)
        for record in records
        if record.type == DOCKER_NETWORK and record.inputs.get("driver") == "overlay"
        for fault in _overlay_faults(record, node_mtu)
    ]
    instances = {str(r.inputs.get("name", r.name)): r.urn for r in records if r.type == INSTANCE}
    for node in read_topology(records).nodes:
        if node.hidden:
            continue  # its cloud-init is a secret: its daemon.json cannot be read
        urn = instances.get(node.hostname)
        violations += [Violation(POLICY, urn, fault) for fault in _daemon_faults(node.daemon, node_mtu)]
    return sorted(violations)
