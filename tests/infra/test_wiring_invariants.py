"""The platform as a connected system: each wiring fault, put back into the real plan, is named.

Every test takes a real stack's offline plan, injects one fault the way a code or config change
would have put it there (a placement constraint, a missing security-group rule, a node's Docker
settings, the published names), and asserts that the policies name it, in one line, and nothing
else; the real plans pass. One test does the same through `python -m infra.plan check` on a copy of
the project whose code carries the fault.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from components import cloud_init
from infra.invariants.topology import SwarmNode, caddy_sites, read_topology
from infra.manifest import Manifest, ResourceRecord
from infra.policies import check_manifest, short_config
from infra.policy_model import Violation
from infra.stack_files import read_stack
from tests.infra.projects import check_with_a_fault
from tests.infra.test_platform_plan import STACKS, manifest

SERVICE = "docker:index/service:Service"
RULE = "openstack:networking/secGroupRule:SecGroupRule"
INSTANCE = "openstack:compute/instance:Instance"
RECORD_SET = "openstack:dns/recordSet:RecordSet"
WIRING = {"host-ports-on-public-nodes", "volumes-on-one-node", "node-paths", "dns-names-match-sites"}


def check(m: Manifest) -> list[Violation]:
    project, config = read_stack(m.stack)
    return check_manifest(m, short_config(config.values, project.name))


def service(name: str) -> Callable[[ResourceRecord], bool]:
    return lambda r: r.type == SERVICE and r.name.endswith(f"-{name}-service")


def changed(m: Manifest, pick: Callable[[ResourceRecord], bool], change: Callable[[dict], Any]) -> Manifest:
    """A copy of the plan where `change` edited the inputs of every record `pick` selects."""
    records, hits = [], 0
    for record in m.resources:
        if pick(record):
            inputs = copy.deepcopy(record.inputs)
            change(inputs)
            record = dataclasses.replace(record, inputs=inputs)
            hits += 1
        records.append(record)
    assert hits, "the fault was injected nowhere"
    return dataclasses.replace(m, resources=records)


def without(m: Manifest, pick: Callable[[ResourceRecord], bool]) -> Manifest:
    kept = [r for r in m.resources if not pick(r)]
    assert len(kept) < len(m.resources), "nothing was removed"
    return dataclasses.replace(m, resources=kept)


def constrain(*constraints: str) -> Callable[[dict], None]:
    def change(inputs: dict) -> None:
        inputs["taskSpec"]["placement"]["constraints"] = list(constraints)

    return change


def lines(violations: list[Violation]) -> list[str]:
    out = [v.line() for v in violations]
    assert all("\n" not in line for line in out)
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_the_real_stacks_are_wired(stack):
    assert [v for v in check(manifest(stack)) if v.policy in WIRING] == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_front_door_may_only_run_where_the_floating_ip_is(stack):
    faulty = changed(manifest(stack), service("caddy"), constrain("node.labels.role==gateway"))
    found = lines(check(faulty))
    # Caddy's certificates are on a named volume too: that volume would move as well.
    policies = sorted(line.split(":")[0] for line in found)
    assert policies == ["host-ports-on-public-nodes", "volumes-on-one-node"]
    (door,) = [line for line in found if line.startswith("host-ports-on-public-nodes")]
    assert "caddy" in door and "manager-1" in door and "manager-2" in door and "manager-0" not in door


@pytest.mark.parametrize("stack", STACKS)
def test_every_published_port_and_protocol_needs_its_rule(stack):
    udp_443 = "-web-in-udp-443-0.0.0.0_0"
    faulty = without(manifest(stack), lambda r: r.type == RULE and r.name.endswith(udp_443))
    found = lines(check(faulty))
    assert len(found) == 1, found
    assert "host-ports-on-public-nodes" in found[0] and "443/udp" in found[0] and "443/tcp" not in found[0]


def test_traefiks_postgis_port_needs_a_client_rule():
    faulty = without(manifest("ovh"), lambda r: r.type == RULE and "-clients-in-tcp-5432-" in r.name)
    found = lines(check(faulty))
    assert len(found) == 1 and "traefik" in found[0] and "5432/tcp" in found[0], found


@pytest.mark.parametrize(
    ("name", "constraints", "nodes"),
    [
        ("postgis", ("node.labels.role==data",), 2),
        ("identity-db", ("node.labels.role==data",), 2),
        ("opensearch", ("node.labels.role==data",), 2),
        ("prometheus", ("node.role==manager",), 3),
        ("portainer", ("node.role==manager",), 3),
    ],
)
def test_a_named_volume_pins_its_service_to_one_node(name, constraints, nodes):
    faulty = changed(manifest("ovh"), service(name), constrain(*constraints))
    found = [line for line in lines(check(faulty)) if "volumes-on-one-node" in line]
    assert len(found) == 1, found
    assert f"-{name}-service" in found[0] and f"may run on {nodes} nodes" in found[0]


def with_user_data(edit: Callable[[dict], None]) -> Callable[[dict], None]:
    def change(inputs: dict) -> None:
        document = yaml.safe_load(inputs["userData"])
        edit(document)
        inputs["userData"] = cloud_init.render(document)

    return change


def daemon(settings: dict) -> Callable[[dict], None]:
    def edit(document: dict) -> None:
        for entry in document["write_files"]:
            if entry["path"] == "/etc/docker/daemon.json":
                entry["content"] = json.dumps(settings)

    return edit


def swarm_worker(record: ResourceRecord) -> bool:
    return record.type == INSTANCE and record.inputs["metadata"]["role"] == "swarm-worker"


def test_moving_dockers_data_root_on_some_nodes_breaks_the_global_services():
    moved = daemon({**cloud_init.docker_daemon(), "data-root": "/srv/data/docker"})
    found = lines(check(changed(manifest("ovh"), swarm_worker, with_user_data(moved))))
    prefix = "deepcube-platform-ovh-services-"
    services = {line.split(": ")[1].rsplit("-", 1)[0].removeprefix(prefix) for line in found}
    assert services == {"logs-filebeat", "monitoring-cadvisor", "portainer-portainer-agent"}, found
    assert all("node-paths" in line and "/srv/data/docker" in line for line in found)


def test_logs_in_the_local_driver_cannot_be_shipped():
    local = daemon({**cloud_init.docker_daemon(), "log-driver": "local"})
    found = lines(check(changed(manifest("ovh"), swarm_worker, with_user_data(local))))
    assert len(found) == 2 and all("filebeat" in line and "'local'" in line for line in found), found


def test_opensearch_needs_its_map_count_on_its_node():
    def drop_sysctls(document: dict) -> None:
        document["write_files"] = [f for f in document["write_files"] if f["path"] != cloud_init.SYSCTL_FILE]

    found = lines(check(changed(manifest("ovh"), swarm_worker, with_user_data(drop_sysctls))))
    assert len(found) == 1 and "opensearch" in found[0] and "vm.max_map_count >= 262144" in found[0], found


@pytest.mark.parametrize("stack", STACKS)
def test_published_names_are_exactly_the_gateways_sites(stack):
    m = manifest(stack)
    sites = caddy_sites(m.resources)
    assert set(m.outputs["dns_names"]) == sites == {f"{stack}.deepcube.example.eu"}
    gateway = m.outputs["gateway_address"]
    outputs = {**m.outputs, "dns_names": {f"www.{stack}.deepcube.example.eu": gateway}}
    found = lines(check(dataclasses.replace(m, outputs=outputs)))
    assert len(found) == 2 and all("dns-names-match-sites" in line for line in found), found
    assert any("lack the gateway's sites" in line for line in found)
    assert any(f"www.{stack}.deepcube.example.eu, which the gateway does not serve" in line for line in found)


def test_designate_records_follow_the_sites_too():
    def rename(inputs: dict) -> None:
        inputs["name"] = "www.creodias.deepcube.example.eu."

    found = lines(check(changed(manifest("creodias"), lambda r: r.type == RECORD_SET, rename)))
    assert len(found) == 2 and all("DNS records" in line for line in found), found


def test_the_plan_labels_one_public_node_and_gives_every_node_its_identity():
    topology = read_topology(manifest("ovh").resources)
    public = [node for node in topology.nodes if node.public]
    assert [node.hostname for node in public] == ["deepcube-platform-ovh-swarm-manager-0"]
    assert public[0].labels["deepcube.public"] == "true"
    assert all(node.labels["deepcube.node"] == node.hostname for node in topology.nodes)
    assert {node.data_root for node in topology.nodes} == {"/var/lib/docker"}


def test_placement_constraints_follow_swarms_rules():
    node = SwarmNode(
        hostname="n1", manager=False, labels={"role": "data"}, public=False, public_rules=(),
        daemon={}, sysctls={}, host_mounts=(),
    )
    assert node.satisfies(["node.labels.role==data", "node.role==worker", "node.platform.os==linux"])
    assert not node.satisfies(["node.labels.role!=data"])
    assert not node.satisfies(["node.labels.zone==a"])  # a missing label never equals a value
    assert node.satisfies(["node.labels.zone!=a"])
    assert not node.satisfies(["node.role==manager"])


def test_infra_plan_check_names_a_fault_in_the_code_in_one_line(tmp_path):
    run = check_with_a_fault(
        tmp_path,
        "ovh",
        "components/catalogue/gateway.py",
        "            constraints=(ctx.placement.public,),\n            networks=caddy_networks(",
        '            constraints=("node.role==manager",),\n            networks=caddy_networks(',
    )
    assert run.returncode == 1, run.stderr
    found = run.stdout.splitlines()
    assert sorted(line.split(":")[1].strip() for line in found) == [
        "host-ports-on-public-nodes",
        "volumes-on-one-node",
    ], found
    assert all(line.startswith("ovh: ") and "caddy" in line for line in found)
    assert "2 violation(s)" in run.stderr


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_caddy_sites_skip_the_global_block_snippets_and_port_only_listeners():
    text = (
        "{\n\temail a@b.c\n}\n\n(identity) {\n\tforward_auth x\n}\n"
        "example.org, www.example.org {\n}\n:9180 {\n}\n"
    )
    record = ResourceRecord(
        urn="urn:x", type="docker:index/serviceConfig:ServiceConfig", name="x-caddy-config-caddyfile",
        parent=None, custom=True, provider=None, inputs={"data": b64(text)}, secret_inputs=[],
        dependencies=[], property_dependencies={}, options={},
    )
    assert caddy_sites([record]) == {"example.org", "www.example.org"}



def test_the_crossguard_pack_follows_the_same_dependencies():
    """The engine hands the pack resources whose dependencies are resource objects, not URNs."""
    from types import SimpleNamespace

    from policy.adapter import check_stack

    def engine_view(m: Manifest) -> list[SimpleNamespace]:
        def ref(urn: str) -> SimpleNamespace:
            return SimpleNamespace(urn=urn)

        return [
            SimpleNamespace(
                urn=r.urn, resource_type=r.type, name=r.name, props=r.inputs, parent=None,
                dependencies=[ref(u) for u in r.dependencies],
                property_dependencies={k: [ref(u) for u in v] for k, v in r.property_dependencies.items()},
            )
            for r in m.resources
        ]

    good = manifest("ovh")
    assert check_stack("host-ports-on-public-nodes", engine_view(good), {}) == []
    faulty = changed(good, service("caddy"), constrain("node.labels.role==gateway"))
    (found,) = check_stack("host-ports-on-public-nodes", engine_view(faulty), {})
    assert "caddy" in found.urn and "manager-1" in found.message
