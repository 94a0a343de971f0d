"""Where services land: the public front door, and node-local data that must not move.

- A service publishing host-mode ports answers only on the node its task runs on, so every node
  its placement can pick must hold a public address, and that address's security groups must
  admit each published port and protocol from outside (a rule for 443/tcp does not open 443/udp).
- A named volume lives on one node's disk: a task rescheduled to another node silently starts on
  an empty volume. So a service with a named volume must be placeable on exactly one node.
Plans without swarm nodes (e.g. the services alone) have nothing to judge these against.
"""

from __future__ import annotations

from collections.abc import Sequence

from infra.invariants.topology import SwarmNode, SwarmServiceView, SwarmTopology, read_topology
from infra.manifest import ResourceRecord
from infra.policy_model import PolicyContext, Violation


def _names(nodes: Sequence[SwarmNode]) -> str:
    return ", ".join(node.hostname for node in nodes) or "none"


def _front_door(service: SwarmServiceView, topology: SwarmTopology) -> list[Violation]:
    policy = "host-ports-on-public-nodes"
    candidates = topology.candidates(service)
    ports = ", ".join(f"{port}/{proto}" for port, proto in service.host_ports)
    if not candidates:
        return [Violation(policy, service.urn, f"publishes {ports} but its placement matches no node")]
    violations = []
    private = [node for node in candidates if not node.public]
    if private:
        violations.append(Violation(
            policy, service.urn,
            f"publishes {ports} in host mode but may run on nodes without a public address: "
            f"{_names(private)}",
        ))
    for node in candidates:
        if not node.public:
            continue
        closed = [
            f"{port}/{proto}" for port, proto in service.host_ports
            if not any(rule.from_outside() and rule.admits(port, proto) for rule in node.public_rules)
        ]
        if closed:
            violations.append(Violation(
                policy, service.urn,
                f"publishes {', '.join(closed)} on {node.hostname}, "
                "but no security-group rule there admits it",
            ))
    return violations


def host_ports_on_public_nodes(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """Host-mode ports only on public nodes, each port and protocol opened there."""
    topology = read_topology(records)
    if not topology.nodes:
        return []
    return [
        violation
        for service in topology.services
        if service.host_ports
        for violation in _front_door(service, topology)
    ]


def volumes_on_one_node(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """A service with a node-local named volume is constrained to exactly one node."""
    topology = read_topology(records)
    if not topology.nodes:
        return []
    violations = []
    for service in topology.services:
        if not service.volumes:
            continue
        candidates = topology.candidates(service)
        if len(candidates) != 1:
            violations.append(Violation(
                "volumes-on-one-node", service.urn,
                f"keeps {', '.join(service.volumes)} on a node-local volume but may run on "
                f"{len(candidates)} nodes ({_names(candidates)}); pin it to one node",
            ))
    return violations
