"""Which plan nodes the box hosts, with the plan's own labels, and Swarm's constraint rule."""

from __future__ import annotations

import pytest

from infra.box.topology import (
    Placed,
    PlanNode,
    TopologyError,
    constraint_holds,
    hosted_nodes,
    label_adds,
    plan_nodes,
)
from infra.manifest import Manifest

LEADER = PlanNode("m-0", manager=True, leader=True, labels={"role": "gateway", "deepcube.node": "m-0"})
MANAGER = PlanNode("m-1", manager=True, leader=False, labels={"role": "gateway", "deepcube.node": "m-1"})
WORKER = PlanNode("w-0", manager=False, leader=False, labels={"role": "data", "deepcube.node": "w-0"})


def test_label_adds_reads_the_membership_command() -> None:
    command = (
        "until sudo docker node inspect abc >/dev/null 2>&1; do sleep 2; done; "
        "sudo docker node update --label-add deepcube.node=m-0 --label-add 'role=gate way' abc"
    )
    assert label_adds(command) == {"deepcube.node": "m-0", "role": "gate way"}


@pytest.mark.parametrize(
    ("constraint", "node", "holds"),
    [
        ("node.role==manager", LEADER, True),
        ("node.role==manager", WORKER, False),
        ("node.role != manager", WORKER, True),
        ("node.labels.role==data", WORKER, True),
        ("node.labels.role==data", LEADER, False),
        ("node.labels.missing!=x", LEADER, True),
        ("node.labels.deepcube.node==w-0", WORKER, True),
        ("node.hostname==m-0", LEADER, True),
        ("node.platform.os==linux", WORKER, True),
        ("node.platform.os==windows", WORKER, False),
    ],
)
def test_constraints_follow_swarm(constraint: str, node: PlanNode, holds: bool) -> None:
    assert constraint_holds(constraint, node) is holds


def test_unknown_constraint_keys_are_refused() -> None:
    with pytest.raises(TopologyError, match=r"does not evaluate engine\.labels\.x"):
        constraint_holds("engine.labels.x==1", LEADER)


def test_hosted_nodes_are_the_leader_plus_what_placement_needs() -> None:
    services = [
        Placed("caddy", ("node.labels.role==gateway",)),
        Placed("prometheus", ("node.role==manager",)),
        Placed("postgis", ("node.labels.deepcube.node==w-0",)),
        Placed("dask-worker", ("node.labels.role==data",)),
        Placed("node-exporter", ("node.platform.os==linux",)),
    ]
    assert hosted_nodes([LEADER, MANAGER, WORKER], services) == [LEADER, WORKER]


def test_a_service_no_node_can_take_is_named() -> None:
    with pytest.raises(TopologyError, match=r"gpu: no node of the plan satisfies node\.labels\.gpu==true"):
        hosted_nodes([LEADER, WORKER], [Placed("gpu", ("node.labels.gpu==true",))])


def test_the_ovh_plan_nodes(ovh_manifest: Manifest) -> None:
    nodes = plan_nodes(ovh_manifest)
    assert nodes[0].leader and nodes[0].manager
    assert sum(n.leader for n in nodes) == 1
    workers = [n for n in nodes if not n.manager]
    assert workers, "the ovh stack has swarm workers"
    for node in nodes:
        assert node.labels, f"{node.hostname} gets labels from its membership command"
