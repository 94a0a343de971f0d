"""Policies: each injected violation is caught, near misses are not, and the real stacks pass."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from infra.manifest import SECRET, UNKNOWN, Manifest, ResourceRecord, is_secret
from infra.offline import evaluate
from infra.policies import (
    RESOURCE_POLICIES,
    STACK_POLICIES,
    PolicyConfigError,
    check_manifest,
    check_records,
    load_settings,
    short_config,
)
from infra.policy_model import PolicyContext, PolicySettings
from infra.rules.images import image_is_pinned
from infra.rules.records import DOCKER_SERVICE, INSTANCE, PORT, ROUTER, SEC_GROUP_RULE
from infra.stack_files import REPO_ROOT, read_stack

STACK = "ovh"


def record(type_: str, name: str = "deepcube-platform-ovh-x", **inputs: Any) -> ResourceRecord:
    """A synthetic custom resource of `type_` at the stack's top level."""
    return ResourceRecord(
        urn=f"urn:pulumi:{STACK}::deepcube-platform::{type_}::{name}",
        type=type_,
        name=name,
        parent=f"urn:pulumi:{STACK}::deepcube-platform::pulumi:pulumi:Stack::deepcube-platform-{STACK}",
        custom=True,
        provider=None,
        inputs=inputs,
        secret_inputs=sorted(k for k, v in inputs.items() if is_secret(v)),
        dependencies=[],
        property_dependencies={},
        options={},
    )


def context(**settings: Any) -> PolicyContext:
    config = {"cloud": {"name": "ovh", "region": "GRA9", "external_network": "Ext-Net"}}
    return PolicyContext(stack=STACK, settings=PolicySettings(**settings), stack_config=config)


def policies_hit(*records: ResourceRecord, **settings: Any) -> list[str]:
    return [violation.policy for violation in check_records(list(records), context(**settings))]


def rule(**inputs: Any) -> ResourceRecord:
    base = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "securityGroupId": "sg"}
    return record(SEC_GROUP_RULE, **{**base, **inputs})


@pytest.mark.parametrize(
    "inputs",
    [
        {"portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": "0.0.0.0/0"},
        {"portRangeMin": 2377, "portRangeMax": 2377, "remoteIpPrefix": "::/0", "ethertype": "IPv6"},
        {"portRangeMin": 4789, "portRangeMax": 4789, "protocol": "udp", "remoteIpPrefix": "0.0.0.0/0"},
        {"portRangeMin": 5000, "portRangeMax": 6000, "remoteIpPrefix": "0.0.0.0/0"},  # covers 5432, 5601
        {"portRangeMin": 9443, "portRangeMax": 9443},  # no remote at all: open to everyone
        {"remoteIpPrefix": "0.0.0.0/0"},  # no port range: every port
        {"portRangeMin": 3000, "portRangeMax": 3000, "protocol": None, "remoteIpPrefix": "0.0.0.0/0"},
    ],
)
def test_open_admin_ports_are_caught(inputs):
    assert policies_hit(rule(**inputs)) == ["no-public-admin-ports"]


@pytest.mark.parametrize(
    "inputs",
    [
        {"portRangeMin": 443, "portRangeMax": 443, "remoteIpPrefix": "0.0.0.0/0"},  # public HTTPS is fine
        {"portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": "10.20.0.0/24"},
        {"portRangeMin": 2377, "portRangeMax": 2377, "remoteGroupId": "sg-swarm"},
        {"portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": "0.0.0.0/0", "direction": "egress"},
        {"protocol": "icmp", "remoteIpPrefix": "0.0.0.0/0"},
        {"portRangeMin": 22, "portRangeMax": 22, "remoteIpPrefix": UNKNOWN},
    ],
)
def test_closed_or_harmless_rules_pass(inputs):
    assert policies_hit(rule(**inputs)) == []


def test_violation_line_names_policy_resource_and_ports():
    [violation] = check_records(
        [rule(portRangeMin=22, portRangeMax=22, remoteIpPrefix="0.0.0.0/0")], context()
    )
    assert (
        violation.line()
        == "no-public-admin-ports: deepcube-platform-ovh-x: tcp from 0.0.0.0/0 opens 22 (SSH)"
    )


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("grafana/grafana:10.4.2", True),
        ("registry.example.org:5000/team/app:1.2", True),
        ("caddy@sha256:" + "a" * 64, True),
        ("grafana/grafana", False),
        ("grafana/grafana:latest", False),
        ("registry.example.org:5000/team/app", False),
    ],
)
def test_image_pinning_rule(image, pinned):
    assert image_is_pinned(image) is pinned


def service(image: str) -> ResourceRecord:
    return record(DOCKER_SERVICE, taskSpec={"containerSpec": {"image": image, "env": {"A": "1"}}})


def test_unpinned_service_images_are_caught_and_unknown_ones_trusted():
    assert policies_hit(service("portainer/portainer-ce")) == ["images-pinned"]
    assert policies_hit(service("portainer/portainer-ce:latest")) == ["images-pinned"]
    assert policies_hit(service("portainer/portainer-ce:2.21.4")) == []
    assert policies_hit(service(UNKNOWN)) == []
    assert policies_hit(record(INSTANCE, imageName="Ubuntu 22.04", networks=[{"name": "x-swarm"}])) == []


def test_instances_on_the_external_network_are_caught():
    by_name = record(INSTANCE, networks=[{"name": "deepcube-platform-ovh-net-swarm"}, {"name": "Ext-Net"}])
    assert policies_hit(by_name) == ["instances-on-private-networks"]
    router = record(ROUTER, name="deepcube-platform-ovh-router", externalNetworkId="ext-id-123")
    by_id = record(INSTANCE, networks=[{"uuid": "ext-id-123"}])
    assert policies_hit(router, by_id) == ["instances-on-private-networks"]
    assert policies_hit(record(INSTANCE, networks=[])) == ["instances-on-private-networks"]
    assert policies_hit(router, record(PORT, networkId="ext-id-123")) == ["instances-on-private-networks"]
    assert policies_hit(router, record(INSTANCE, networks=[{"uuid": "private-id"}])) == []


def test_external_networks_can_be_added_by_settings():
    instance = record(INSTANCE, networks=[{"name": "eodata"}])
    assert policies_hit(instance) == []
    assert policies_hit(instance, external_networks=["eodata"]) == ["instances-on-private-networks"]


@pytest.mark.parametrize(
    "inputs",
    [
        {"adminPass": "hunter2"},
        {"connection": {"host": "10.0.0.1", "privateKey": "abc"}},
        {"taskSpec": {"containerSpec": {"image": "postgres:16", "env": {"POSTGRES_PASSWORD": "pw"}}}},
        {"environment": {"JOIN_TOKEN": "SWMTKN-1-abc"}},
        {"userData": "#cloud-config\nwrite_files:\n- content: |\n    -----BEGIN PRIVATE KEY-----\n"},
    ],
)
def test_plain_credentials_are_caught(inputs):
    assert "secrets-only-as-secrets" in policies_hit(record("command:remote:Command", **inputs))


@pytest.mark.parametrize(
    "inputs",
    [
        {"adminPass": SECRET},
        {"connection": {"host": "10.0.0.1", "privateKey": SECRET}},
        {"taskSpec": {"containerSpec": {"env": {"POSTGRES_PASSWORD_FILE": "/run/secrets/pg"}}}},
        {"taskSpec": {"containerSpec": {"secrets": [{"secretId": "x", "secretName": "pg"}]}}},
        {"keyPair": "deploy", "tokenUrl": "https://auth.example.org/token"},
    ],
)
def test_secrets_and_secret_references_pass(inputs):
    assert policies_hit(record("command:remote:Command", **inputs)) == []


def gpu_worker(index: int, **inputs: Any) -> ResourceRecord:
    base = {"flavorName": "b2-7", "networks": [{"name": "deepcube-platform-ovh-hopsworks"}]}
    return record(INSTANCE, name=f"deepcube-platform-ovh-gpu-{index}", **{**base, **inputs})


def test_gpu_pool_over_budget_is_caught_by_flavor_or_metadata():
    pool = [gpu_worker(0, flavorName="t1-45"), gpu_worker(1, metadata={"gpu": "true"}), gpu_worker(2)]
    assert policies_hit(*pool, gpu_budget=2) == []
    assert policies_hit(*pool, gpu_budget=1) == ["gpu-budget"]
    [violation] = check_records(pool, context(gpu_budget=1))
    assert violation.urn is None and "2 GPU instances exceed the budget of 1" in violation.message


def test_the_stacks_gpu_flavor_is_read_from_its_config():
    ctx = PolicyContext(
        stack=STACK,
        settings=PolicySettings(gpu_budget=0),
        stack_config={"hopsworks": {"gpu_workers": {"flavor": "custom-big", "count": 1}}},
    )
    violations = check_records([gpu_worker(0, flavorName="custom-big")], ctx)
    assert [v.policy for v in violations] == ["gpu-budget"]


def test_resources_without_the_stack_name_are_caught():
    assert policies_hit(record(SEC_GROUP_RULE, name="allow-https", direction="egress")) == [
        "tagged-with-stack"
    ]
    assert policies_hit(record(INSTANCE, name="worker-1", tags=["ovh"], networks=[{"name": "n"}])) == []
    assert policies_hit(record(INSTANCE, name="deepcube-platform-ovhx-1", networks=[{"name": "n"}])) == [
        "tagged-with-stack"
    ]
    assert policies_hit(record("pulumi:providers:openstack", name="default_5_5_3")) == []


def test_settings_come_from_the_policy_key_and_typos_are_errors():
    assert load_settings({}).gpu_budget == 4
    assert load_settings({"policy": {"gpu_budget": 2}}).gpu_budget == 2
    with pytest.raises(PolicyConfigError, match=r"for policy\.gpu_budjet"):
        load_settings({"policy": {"gpu_budjet": 2}})
    with pytest.raises(PolicyConfigError, match=r"for policy\.gpu_budget"):
        load_settings({"policy": {"gpu_budget": -1}})


def test_many_violations_are_reported_together_and_sorted():
    records = [
        rule(name="sg-ssh", portRangeMin=22, portRangeMax=22, remoteIpPrefix="0.0.0.0/0"),
        service("nginx"),
        record(INSTANCE, name="deepcube-platform-ovh-pub", networks=[{"name": "Ext-Net"}], adminPass="x"),
    ]
    violations = check_records(records, context())
    assert [v.policy for v in violations] == [
        "images-pinned",
        "instances-on-private-networks",
        "no-public-admin-ports",
        "secrets-only-as-secrets",
        "tagged-with-stack",
    ]
    assert violations == sorted(violations)


@pytest.mark.parametrize("stack", ["ovh", "creodias"])
def test_real_stacks_pass_every_policy(stack):
    manifest = evaluate(stack)
    project, config = read_stack(stack)
    assert [v.line() for v in check_manifest(manifest, short_config(config.values, project.name))] == []


def clean_manifest() -> Manifest:
    """A small stack that passes: private instance, tight rules, pinned image, secret password."""
    return Manifest(
        "deepcube-platform",
        STACK,
        [
            record(ROUTER, name="deepcube-platform-ovh-router", externalNetworkId="ext-id"),
            record(INSTANCE, name="deepcube-platform-ovh-w0", flavorName="b2-7", networks=[{"uuid": "priv"}]),
            rule(
                name="deepcube-platform-ovh-ssh",
                portRangeMin=22,
                portRangeMax=22,
                remoteIpPrefix="10.0.0.0/8",
            ),
            record(
                DOCKER_SERVICE,
                name="deepcube-platform-ovh-pg",
                taskSpec={
                    "containerSpec": {"image": "postgis/postgis:16-3.4", "env": {"POSTGRES_PASSWORD": SECRET}}
                },
            ),
        ],
    )


def test_check_manifest_passes_a_clean_stack_and_catches_an_injected_violation():
    manifest = clean_manifest()
    assert check_manifest(manifest, {}) == []
    leaky = Manifest(manifest.project, manifest.stack, [*manifest.resources, service("grafana/grafana")])
    assert [v.policy for v in check_manifest(leaky, {})] == ["images-pinned"]


def run_plan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "infra.plan", *args], cwd=REPO_ROOT, capture_output=True, text=True
    )


def test_check_cli_passes_the_real_stack_and_fails_over_budget():
    ok = run_plan("check", "ovh")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == ""
    assert "ovh: 0 violation(s)" in ok.stderr
    bad = run_plan("check", "ovh", "--set", "policy={gpu_budget: -1}")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "infra.plan: error: Invalid configuration: input should be greater than or equal to 0 "
        "for policy.gpu_budget (in Pulumi.ovh.yaml)"
    ]


def test_check_cli_prints_one_line_per_violation_and_exits_1(monkeypatch, capsys):
    import typer

    from infra import plan

    manifest = clean_manifest()
    extra = [service("grafana/grafana"), rule(portRangeMin=22, portRangeMax=22, remoteIpPrefix="0.0.0.0/0")]
    leaky = Manifest(manifest.project, manifest.stack, [*manifest.resources, *extra])
    monkeypatch.setattr(plan, "evaluate", lambda stack, overrides, **_: leaky)
    with pytest.raises(typer.Exit) as exit_info:
        plan.check("ovh", None)
    assert exit_info.value.exit_code == 1
    assert capsys.readouterr().out.splitlines() == [
        "ovh: images-pinned: deepcube-platform-ovh-x: "
        "taskSpec.containerSpec.image 'grafana/grafana' is not pinned",
        "ovh: no-public-admin-ports: deepcube-platform-ovh-x: tcp from 0.0.0.0/0 opens 22 (SSH)",
    ]


def engine_resource(type_: str, name: str, parent: Any = None, **props: Any) -> Any:
    """What CrossGuard hands a policy: type, props (camelCase), URN, name (and parent for stacks)."""
    from types import SimpleNamespace

    urn = f"urn:pulumi:{STACK}::deepcube-platform::{type_}::{name}"
    return SimpleNamespace(resource_type=type_, props=props, urn=urn, name=name, parent=parent)


def test_crossguard_adapter_runs_the_same_functions():
    from policy.adapter import PACK_RESOURCE_POLICIES, check_resource, check_stack

    assert "secrets-only-as-secrets" not in PACK_RESOURCE_POLICIES  # CrossGuard sees decrypted secrets
    open_ssh = engine_resource(
        SEC_GROUP_RULE,
        "ovh-ssh",
        direction="ingress",
        protocol="tcp",
        portRangeMin=22,
        portRangeMax=22,
        remoteIpPrefix="0.0.0.0/0",
    )
    [violation] = check_resource("no-public-admin-ports", open_ssh, {})
    assert violation.message == "tcp from 0.0.0.0/0 opens 22 (SSH)"
    assert check_resource("tagged-with-stack", engine_resource(INSTANCE, "web"), {})
    gpus = [
        engine_resource(INSTANCE, f"ovh-gpu-{i}", flavorName="t1-45", networks=[{"uuid": "p"}])
        for i in range(3)
    ]
    assert check_stack("gpu-budget", gpus, {"gpu_budget": 3}) == []
    assert [v.policy for v in check_stack("gpu-budget", gpus, {"gpu_budget": 2})] == ["gpu-budget"]


def test_crossguard_pack_registers_every_policy(monkeypatch):
    """`policy/__main__.py` against a stand-in `pulumi_policy` (the SDK is not in this venv)."""
    import runpy
    import types

    fake = types.ModuleType("pulumi_policy")
    built: dict[str, Any] = {}

    class Recorder:
        def __init__(self, **kwargs: Any) -> None:
            self.__dict__.update(kwargs)

    class Pack(Recorder):
        def __init__(self, **kwargs: Any) -> None:
            built.update(kwargs)

    fake.EnforcementLevel = types.SimpleNamespace(MANDATORY="mandatory")
    fake.PolicyConfigSchema = Recorder
    fake.ResourceValidationPolicy = Recorder
    fake.StackValidationPolicy = Recorder
    fake.PolicyPack = Pack
    monkeypatch.setitem(sys.modules, "pulumi_policy", fake)
    runpy.run_path(str(REPO_ROOT / "policy" / "__main__.py"), run_name="__main__")
    names = [policy.name for policy in built["policies"]]
    from policy.adapter import OFFLINE_ONLY

    assert sorted(names) == sorted(
        [name for name in RESOURCE_POLICIES if name not in OFFLINE_ONLY] + list(STACK_POLICIES)
    )
    assert {"host-ports-on-public-nodes", "volumes-on-one-node", "dns-names-match-sites"} <= set(names)
    by_name = {policy.name: policy for policy in built["policies"]}
    args = engine_resource(
        "docker:index/service:Service", "ovh-web", taskSpec={"containerSpec": {"image": "nginx"}}
    )
    args.get_config = lambda: {}
    reported: list[str] = []
    by_name["images-pinned"].validate(args, lambda message, urn=None: reported.append(message))
    assert reported == ["taskSpec.containerSpec.image 'nginx' is not pinned"]


def test_split_prefixes_that_together_open_an_admin_port_are_caught():
    halves = [
        rule(name="deepcube-platform-ovh-a", portRangeMin=22, portRangeMax=22, remoteIpPrefix="0.0.0.0/1"),
        rule(name="deepcube-platform-ovh-b", portRangeMin=22, portRangeMax=22, remoteIpPrefix="128.0.0.0/1"),
    ]
    assert [v.line() for v in check_records(halves, context())] == [
        "no-public-admin-ports-union: deepcube-platform-ovh-a: "
        "tcp from 0.0.0.0/1 + 128.0.0.0/1 together open 22 (SSH) to all of IPv4"
    ]
    quarters = [
        rule(portRangeMin=2000, portRangeMax=2999, remoteIpPrefix=prefix, protocol=protocol, ethertype="IPv6")
        for prefix, protocol in (("::/2", "tcp"), ("4000::/2", None), ("8000::/1", "tcp"))
    ]
    [violation] = check_records(quarters, context())
    assert violation.message == (
        "tcp from ::/2 + 4000::/2 + 8000::/1 together open 2377 (Swarm management) to all of IPv6"
    )


@pytest.mark.parametrize(
    "second",
    [
        {"remoteIpPrefix": "128.0.0.0/2"},  # a quarter of IPv4 is still missing
        {"remoteIpPrefix": "128.0.0.0/1", "securityGroupId": "other-sg"},  # another group
        {"remoteIpPrefix": "128.0.0.0/1", "protocol": "udp"},  # another protocol
        {"remoteIpPrefix": "128.0.0.0/1", "portRangeMin": 443, "portRangeMax": 443},  # another port
        {"remoteIpPrefix": "128.0.0.0/1", "direction": "egress"},
        {"remoteIpPrefix": UNKNOWN},
    ],
)
def test_unions_short_of_everyone_pass(second):
    first = rule(portRangeMin=22, portRangeMax=22, remoteIpPrefix="0.0.0.0/1")
    other = rule(name="deepcube-platform-ovh-y", **{"portRangeMin": 22, "portRangeMax": 22, **second})
    assert policies_hit(first, other) == []


def test_a_rule_open_alone_is_reported_once_by_the_per_rule_policy():
    records = [
        rule(portRangeMin=22, portRangeMax=22, remoteIpPrefix="0.0.0.0/0"),
        rule(name="deepcube-platform-ovh-y", portRangeMin=22, portRangeMax=22, remoteIpPrefix="10.0.0.0/8"),
    ]
    assert policies_hit(*records) == ["no-public-admin-ports"]


def test_crossguard_stack_policy_judges_unions_by_group_id():
    from policy.adapter import check_stack

    halves = [
        engine_resource(
            SEC_GROUP_RULE,
            f"ovh-ssh-{i}",
            direction="ingress",
            protocol="tcp",
            portRangeMin=22,
            portRangeMax=22,
            remoteIpPrefix=prefix,
            securityGroupId="sg-1",
        )
        for i, prefix in enumerate(("0.0.0.0/1", "128.0.0.0/1"))
    ]
    [violation] = check_stack("no-public-admin-ports-union", halves, {})
    assert violation.urn == halves[0].urn
