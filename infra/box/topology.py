"""Which of the plan's swarm nodes the box hosts, with the labels the program gives them (pure).

The program labels its nodes by remote commands (`docker node update --label-add ...`, one
`*-membership` command per node, run after that node's init or join). The box reads those records
instead of knowing the labels: each plan node keeps its hostname, role and labels, and the box hosts
the fewest plan nodes that give every service it runs a place (the swarm's leader always, then
each node a service's constraints need). Labels of different nodes cannot be merged onto one node:
they name nodes (`deepcube.node=<hostname>`) and roles (`role=gateway` / `role=data`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from infra.manifest import Manifest, ResourceRecord

COMMAND_TYPE = "command:remote:Command"
MEMBERSHIP_SUFFIX = "-membership"
PLATFORM = {"os": "linux", "arch": "x86_64"}
_CONSTRAINT = re.compile(r"^\s*([\w.\-]+)\s*(==|!=)\s*(\S.*?)\s*$")


class TopologyError(ValueError):
    """The plan's nodes cannot host what the box must run; the message names the service."""


@dataclass(frozen=True)
class PlanNode:
    """One swarm node of the plan."""

    hostname: str
    manager: bool
    leader: bool
    labels: dict[str, str] = field(default_factory=dict)


def label_adds(command: str) -> dict[str, str]:
    """The `--label-add k=v` pairs of a node-labelling command line."""
    words = shlex.split(command.replace(";", " ; "))
    labels = {}
    for index, word in enumerate(words):
        if word == "--label-add" and index + 1 < len(words):
            key, _, value = words[index + 1].partition("=")
            labels[key] = value
    return labels


def _create_deps(record: ResourceRecord) -> list[str]:
    return record.property_dependencies.get("create", [])


def plan_nodes(manifest: Manifest) -> list[PlanNode]:
    """Every node the plan labels, the leader (the one `docker swarm init` runs on) first."""
    by_urn = manifest.by_urn()
    commands = manifest.of_type(COMMAND_TYPE)
    nodes = []
    for record in commands:
        if not record.name.endswith(MEMBERSHIP_SUFFIX):
            continue
        create = record.inputs.get("create")
        if not isinstance(create, str):
            raise TopologyError(f"{record.name}: its command is not readable in the plan")
        sources = [by_urn[u] for u in _create_deps(record) if u in by_urn and by_urn[u].type == COMMAND_TYPE]
        if len(sources) != 1:
            raise TopologyError(f"{record.name}: expected one init or join command, found {len(sources)}")
        source = sources[0]
        source_text = str(source.inputs.get("create", ""))
        leader = "docker swarm init" in source_text
        manager = leader
        if not leader:
            tokens = [by_urn[u] for u in _create_deps(source) if u in by_urn]
            manager = any("join-token -q manager" in str(t.inputs.get("create", "")) for t in tokens)
        nodes.append(
            PlanNode(
                hostname=record.name.removesuffix(MEMBERSHIP_SUFFIX),
                manager=manager,
                leader=leader,
                labels=label_adds(create),
            )
        )
    leaders = [n for n in nodes if n.leader]
    if len(leaders) != 1:
        raise TopologyError(f"the plan has {len(leaders)} swarm leaders; expected one `docker swarm init`")
    return sorted(nodes, key=lambda n: (not n.leader, not n.manager, n.hostname))


def constraint_holds(constraint: str, node: PlanNode) -> bool:
    """Swarm's placement rule for one constraint on one node (node.role/hostname/labels/platform)."""
    match = _CONSTRAINT.match(constraint)
    if match is None:
        raise TopologyError(f"constraint {constraint!r} is not KEY==VALUE or KEY!=VALUE")
    key, op, expected = match.groups()
    if key == "node.role":
        actual: str | None = "manager" if node.manager else "worker"
    elif key == "node.hostname":
        actual = node.hostname
    elif key.startswith("node.labels."):
        actual = node.labels.get(key.removeprefix("node.labels."))
    elif key.startswith("node.platform."):
        actual = PLATFORM.get(key.removeprefix("node.platform."))
    else:
        raise TopologyError(f"constraint {constraint!r}: the box does not evaluate {key}")
    # Swarm compares case-insensitively for roles and platforms, exactly for labels.
    equal = actual is not None and (
        actual == expected if key.startswith("node.labels.") else actual.lower() == expected.lower()
    )
    return equal if op == "==" else not equal


def fits(constraints: Iterable[str], node: PlanNode) -> bool:
    return all(constraint_holds(c, node) for c in constraints)


@dataclass(frozen=True)
class Placed:
    """What the box must give a place: a service name and its constraints."""

    name: str
    constraints: tuple[str, ...]


def hosted_nodes(nodes: Sequence[PlanNode], services: Iterable[Placed]) -> list[PlanNode]:
    """The leader plus, for each service no chosen node can take, the first plan node that can."""
    if not nodes or not nodes[0].leader:
        raise TopologyError("the plan's nodes must start with the swarm leader")
    chosen = [nodes[0]]
    for service in services:
        if any(fits(service.constraints, node) for node in chosen):
            continue
        candidates = [node for node in nodes if fits(service.constraints, node)]
        if not candidates:
            raise TopologyError(
                f"{service.name}: no node of the plan satisfies {' and '.join(service.constraints)}"
            )
        chosen.append(candidates[0])
    return chosen
