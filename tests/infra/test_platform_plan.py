"""The real program under the offline runner, for both stacks: counts, networks, rules, secrets.

Manifests are evaluated once per (stack, overrides) and cached: each evaluation runs the whole
program (about 0.3 s).
"""

from __future__ import annotations

import base64
import functools
import json
import re
import subprocess
import sys
from typing import Any

import pytest

from infra.config import PlatformConfig, from_mapping, sections_of
from infra.manifest import Manifest, ResourceRecord, is_secret
from infra.mock_outputs import _ec2_credential, _get_network
from infra.offline import PlanError, evaluate
from infra.stack_files import REPO_ROOT, read_stack

STACKS = ("ovh", "creodias")
INSTANCE = "openstack:compute/instance:Instance"
PORT = "openstack:networking/port:Port"
NETWORK = "openstack:networking/network:Network"
SEC_GROUP = "openstack:networking/secGroup:SecGroup"
RULE = "openstack:networking/secGroupRule:SecGroupRule"
COMMAND = "command:remote:Command"
VOLUME = "openstack:blockstorage/volume:Volume"
ATTACH = "openstack:compute/volumeAttach:VolumeAttach"
EC2 = "openstack:identity/ec2CredentialV3:Ec2CredentialV3"


@functools.cache
def manifest(stack: str, *overrides: str) -> Manifest:
    return evaluate(stack, overrides)


@functools.cache
def stack_config(stack: str) -> PlatformConfig:
    project, config = read_stack(stack)
    return from_mapping(project.name, stack, sections_of(project.name, config.values))


def _by_name(m: Manifest, type_: str) -> dict[str, ResourceRecord]:
    return {r.name: r for r in m.of_type(type_)}


def _deps(record: ResourceRecord, key: str) -> list[str]:
    return record.property_dependencies.get(key, [])


def _group_names(m: Manifest, port: ResourceRecord) -> set[str]:
    by_urn = m.by_urn()
    return {by_urn[urn].name.rsplit("-sg-", 1)[1] for urn in _deps(port, "securityGroupIds")}


def _instance_ports(m: Manifest, instance: ResourceRecord) -> list[ResourceRecord]:
    by_urn = m.by_urn()
    return [by_urn[urn] for urn in _deps(instance, "networks")]


# -- counts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_resource_counts_follow_the_config(stack):
    cfg = stack_config(stack)
    m = manifest(stack)
    specs = cfg.node_specs()
    counts = {
        "swarm.managers": cfg.swarm.managers.count,
        "swarm.workers": cfg.swarm.workers.count,
        "hopsworks.head": 1,
        "hopsworks.workers": cfg.hopsworks.workers.count,
        "hopsworks.gpu_workers": cfg.hopsworks.gpu_workers.count,
    }
    types = m.type_counts()
    assert types[INSTANCE] == sum(counts.values())
    ports = sum(n * (len(specs[k].networks) + int(specs[k].eodata)) for k, n in counts.items())
    assert types[PORT] == ports
    volumes = sum(n for k, n in counts.items() if specs[k].volume_size_gb)
    assert types.get(VOLUME, 0) == types.get(ATTACH, 0) == volumes
    m_count, w_count, g_count = (
        counts["swarm.managers"],
        counts["swarm.workers"],
        counts["hopsworks.workers"] + counts["hopsworks.gpu_workers"],
    )
    # init + 2 tokens + joins + memberships + installer key + install + one enrolment per Hopsworks worker
    assert types[COMMAND] == 3 + (m_count - 1 + w_count) + (m_count + w_count) + 2 + g_count
    assert types[NETWORK] == 4
    assert types["openstack:networking/routerInterface:RouterInterface"] == 2
    assert types["openstack:objectstorage/container:Container"] == 1 + len(cfg.storage.private_containers)
    assert types["openstack:networking/floatingIp:FloatingIp"] == 1
    assert types["pulumi:providers:docker"] == 1


@pytest.mark.parametrize("stack", STACKS)
def test_gpu_what_if_adds_only_gpu_instances_and_their_attachments(stack):
    base = manifest(stack).by_urn()
    more = manifest(stack, "hopsworks.gpu_workers.count=3").by_urn()
    assert set(base) <= set(more), "nothing is removed"
    changed = [urn for urn in base if base[urn] != more[urn]]
    assert changed == [], "no existing resource changes"
    added = [more[urn] for urn in sorted(set(more) - set(base))]
    instances = [r for r in added if r.type == INSTANCE]
    assert len(instances) == 3
    assert all("-hopsworks-gpu-" in r.name for r in instances)
    # Every added resource belongs to one of the three new GPU nodes.
    nodes = {r.name for r in instances}
    for record in added:
        assert any(record.name == n or record.name.startswith(f"{n}-") for n in nodes), record.name
    per_node = {n: sorted(r.type for r in added if r.name.startswith(n)) for n in nodes}
    assert len({tuple(types) for types in per_node.values()}) == 1
    assert sorted(per_node[sorted(nodes)[0]]) == sorted(
        [INSTANCE, COMMAND, VOLUME, ATTACH]
        + [PORT]
        * (
            len(stack_config(stack).hopsworks.gpu_workers.networks)
            + int(stack_config(stack).hopsworks.gpu_workers.eodata)
        )
    )


def test_scaling_swarm_workers_by_one_line():
    base = manifest("ovh")
    more = manifest("ovh", "swarm.workers.count=3")
    assert more.type_counts()[INSTANCE] == base.type_counts()[INSTANCE] + 1
    added = sorted(set(more.by_urn()) - set(base.by_urn()))
    assert all("swarm-worker-2" in urn for urn in added)
    assert [u for u in added if u.endswith("-membership")], "the new worker gets labels and a drain-on-delete"


# -- networks and security -------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_instance_is_on_a_private_network(stack):
    m = manifest(stack)
    cfg = stack_config(stack)
    by_urn = m.by_urn()
    external_id = _get_network({"name": cfg.cloud.external_network})["id"]
    for instance in m.of_type(INSTANCE):
        for net in instance.inputs["networks"]:
            assert set(net) == {"port"}, f"{instance.name} must attach through ports only"
        ports = _instance_ports(m, instance)
        assert ports, instance.name
        primary_network = by_urn[_deps(ports[0], "networkId")[0]]
        assert primary_network.type == NETWORK and primary_network.name.startswith(
            f"{m.project}-{stack}-net-"
        )
        for port in ports:
            assert port.inputs["networkId"] != external_id, f"{port.name} is on the external network"
            assert port.inputs.get("securityGroupIds"), f"{port.name} must name its security groups"


@pytest.mark.parametrize("stack", STACKS)
def test_instances_are_named_and_tagged_with_the_stack(stack):
    for instance in manifest(stack).of_type(INSTANCE):
        assert instance.inputs["name"].startswith(f"deepcube-platform-{stack}-")
        assert instance.inputs["metadata"]["stack"] == stack
        assert f"stack={stack}" in instance.inputs["tags"]


def _rules(m: Manifest) -> list[tuple[str, dict[str, Any], str | None]]:
    """(group name, rule inputs, remote group name) for every rule."""
    by_urn = m.by_urn()
    result = []
    for rule in m.of_type(RULE):
        group = by_urn[_deps(rule, "securityGroupId")[0]].name.rsplit("-sg-", 1)[1]
        remote = _deps(rule, "remoteGroupId")
        remote_name = by_urn[remote[0]].name.rsplit("-sg-", 1)[1] if remote else None
        result.append((group, rule.inputs, remote_name))
    return result


def _covers(inputs: dict[str, Any], port: int) -> bool:
    if inputs.get("protocol") not in (None, "tcp", "udp"):
        return False
    low, high = inputs.get("portRangeMin"), inputs.get("portRangeMax")
    return low is None or low <= port <= high


@pytest.mark.parametrize("stack", STACKS)
def test_security_rules_are_least_privilege(stack):
    m = manifest(stack)
    cfg = stack_config(stack)
    rules = _rules(m)
    assert all(g.inputs["deleteDefaultRules"] is True for g in m.of_type(SEC_GROUP))
    ingress = [(g, i, r) for g, i, r in rules if i["direction"] == "ingress"]
    for group, inputs, remote in ingress:
        if _covers(inputs, 22):
            # SSH: only from the allow-list (to the bastion) or from the bastion/installer groups.
            assert inputs.get("remoteIpPrefix") in cfg.access.ssh_allowed_cidrs or remote in (
                "bastion",
                "hopsworks-installer",
            ), (group, inputs)
        for port in (2377, 7946, 4789):
            if _covers(inputs, port):
                assert inputs.get("remoteIpPrefix") == cfg.network.cidr("swarm"), (group, port, inputs)
        if _covers(inputs, 80) or _covers(inputs, 443):
            assert group == "web", (group, inputs)
        assert inputs.get("remoteIpPrefix") or remote, "every rule names its source"
    # 80/443 and SSH only on the public gateway node: manager 0, whose port holds the floating IP.
    (association,) = m.of_type("openstack:networking/floatingIpAssociate:FloatingIpAssociate")
    (public_port,) = association.property_dependencies["portId"]
    for port in m.of_type(PORT):
        groups = _group_names(m, port)
        assert bool({"web", "bastion", "clients"} & groups) == (port.urn == public_port), port.name
    assert m.by_urn()[public_port].name.endswith("-swarm-manager-0-swarm")


@pytest.mark.parametrize("stack", STACKS)
def test_unrouted_links_have_no_gateway(stack):
    subnets = _by_name(manifest(stack), "openstack:networking/subnet:Subnet")
    roles = stack_config(stack).network.roles
    for name, subnet in subnets.items():
        role = name.rsplit("-", 1)[1]
        assert subnet.inputs["noGateway"] is (not getattr(roles, role).routed)
        assert subnet.inputs["dnsNameservers"]


def test_creodias_data_nodes_attach_eodata_and_ovh_does_not():
    creo = manifest("creodias", "hopsworks.gpu_workers.count=1")
    eodata_ports = [p for p in creo.of_type(PORT) if p.name.endswith("-eodata")]
    cfg = stack_config("creodias")
    expected = sum(
        n
        for spec, n in [
            (cfg.swarm.workers, cfg.swarm.workers.count),
            (cfg.hopsworks.workers, cfg.hopsworks.workers.count),
            (cfg.hopsworks.gpu_workers, 1),
        ]
        if spec.eodata
    )
    assert len(eodata_ports) == expected > 0
    assert all(p.inputs["networkId"] == _get_network({"name": "eodata"})["id"] for p in eodata_ports)
    assert not [p for p in manifest("ovh").of_type(PORT) if p.name.endswith("-eodata")]


# -- secrets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_join_tokens_and_credentials_are_secret(stack):
    m = manifest(stack, "hopsworks.gpu_workers.count=1")
    commands = _by_name(m, COMMAND)
    joins = [c for name, c in commands.items() if name.endswith("-join")]
    assert joins
    for join in joins:
        assert "create" in join.secret_inputs and is_secret(join.inputs["create"])
    for role in ("worker", "manager"):
        token = commands[f"deepcube-platform-{stack}-swarm-{role}-token"]
        assert "stdout" in token.options["additional_secret_outputs"]
    key = commands[f"deepcube-platform-{stack}-hopsworks-installer-key"]
    assert is_secret(key.inputs["stdin"]) and "stdin" in key.secret_inputs
    for command in commands.values():
        assert "connection" in command.secret_inputs, "the SSH private key travels as a secret"
    (ec2,) = m.of_type(EC2)
    assert {"access", "secret"} <= set(ec2.options["additional_secret_outputs"])
    for output in ("s3_access_key", "s3_secret_key", "ssh_private_key"):
        assert is_secret(m.outputs[output])
    text = m.to_json()
    assert _ec2_credential(ec2.name, {})["secret"] not in text
    assert "PRIVATE KEY" not in text


@pytest.mark.parametrize("stack", STACKS)
def test_exports_for_operators_and_services(stack):
    m = manifest(stack)
    outputs = m.outputs
    cfg = stack_config(stack)
    gateway = outputs["gateway_address"]
    assert set(outputs["dns_names"]) == {cfg.services.domain}
    assert outputs["dns_provider"] == cfg.dns.provider
    assert set(outputs["dns_names"].values()) == {gateway}
    assert outputs["s3_endpoint"] == cfg.cloud.object_storage.endpoint
    assert outputs["hopsworks_head_address"]
    assert len(outputs["swarm_manager_addresses"]) == cfg.swarm.managers.count
    (provider,) = m.of_type("pulumi:providers:docker")
    assert provider.inputs["host"] == f"ssh://{cfg.access.ssh_user}@{gateway}"
    containers = _by_name(m, "openstack:objectstorage/container:Container")
    public = [c for c in containers.values() if c.inputs.get("containerRead")]
    assert [c.name for c in public] == [f"deepcube-platform-{stack}-store-{cfg.storage.public_container}"]
    assert public[0].inputs["containerRead"] == ".r:*,.rlistings"


# -- the two stacks ----------------------------------------------------------------------------------

_HEX = re.compile(r"[0-9a-f]{8,}")
_MOCK_IP = re.compile(r"\b(?:10\.9[89]\.0|203\.0\.113)\.\d+\b")


def _masked(m: Manifest, rename: tuple[str, str] | None = None) -> str:
    """Manifest text with the mocks' name-derived tokens and addresses masked (optionally renamed).

    Swarm config payloads travel base64-encoded; they are decoded first so that a stack name
    inside them is renamed like everywhere else.
    """
    data = m.to_dict()
    for record in data["resources"]:
        if record["type"] == "docker:index/serviceConfig:ServiceConfig":
            record["inputs"]["data"] = base64.b64decode(record["inputs"]["data"]).decode()
    text = json.dumps(data, indent=2, sort_keys=True)
    if rename:
        text = text.replace(*rename)
    return _MOCK_IP.sub("IP", _HEX.sub("H", text))


def test_the_two_stacks_differ_only_where_their_yaml_differs():
    _, ovh = read_stack("ovh")
    _, creo = read_stack("creodias")
    assert "ovh" not in json.dumps(creo.values), "the masking below assumes this"
    differing = sorted(
        k for k in set(ovh.values) | set(creo.values) if ovh.values.get(k) != creo.values.get(k)
    )
    assert differing, "the stacks differ somewhere"
    overrides = [
        f"{key.removeprefix('deepcube-platform:')}={json.dumps(creo.values[key])}" for key in differing
    ]
    twin = manifest("ovh", *overrides)  # the ovh stack fed creodias' YAML
    real_creo = manifest("creodias")
    # Same program, same config: only the stack name (in names, URNs, tags) may differ.
    assert _masked(twin, ("ovh", "creodias")) == _masked(real_creo)
    assert _masked(manifest("ovh"), ("ovh", "creodias")) != _masked(real_creo)


# -- config errors before any resource ---------------------------------------------------------------


def test_invalid_config_fails_the_plan_naming_the_key():
    with pytest.raises(PlanError, match=r"for swarm\.managers\.count"):
        evaluate("ovh", ["swarm.managers.count=4"])
    with pytest.raises(PlanError, match=r"for hopsworks\.gpu_workers\.count"):
        evaluate("creodias", ["hopsworks.gpu_workers.count=-1"])


def test_keys_of_other_readers_do_not_break_the_program():
    m = manifest("ovh", 'policy={"max_instances": 40}', 'dashboards={"replicas": 2}')
    assert m.type_counts() == manifest("ovh").type_counts()


def test_cli_refuses_an_even_manager_count_in_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "infra.plan", "ovh", "--set", "swarm.managers.count=2"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "swarm.managers.count" in lines[0]
    assert result.stdout == ""
