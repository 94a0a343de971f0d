"""The stack config model: real stacks validate; wrong keys or values fail naming the YAML key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.config import ConfigError, from_mapping, sections_of
from infra.stack_files import read_stack


def sections(stack: str) -> dict[str, Any]:
    project, config = read_stack(stack)
    return copy.deepcopy(sections_of(project.name, config.values))


@pytest.mark.parametrize("stack", ["ovh", "creodias"])
def test_real_stacks_validate(stack):
    cfg = from_mapping("deepcube-platform", stack, sections(stack))
    assert cfg.swarm.managers.count % 2 == 1
    assert cfg.hopsworks.gpu_workers.flavor
    assert cfg.cloud.s3_endpoint.startswith("https://s3.")


def _fails(stack: str, edit, key: str) -> str:
    data = sections(stack)
    edit(data)
    with pytest.raises(ConfigError) as info:
        from_mapping("deepcube-platform", stack, data)
    message = str(info.value)
    assert message.startswith("Invalid configuration: ")
    assert message.endswith(f" for {key}"), message
    return message


@pytest.mark.parametrize("stack", ["ovh", "creodias"])
def test_refusals_name_the_yaml_key(stack):
    def unknown(d):
        d["swarm"]["workers"]["flavour"] = "b2-7"

    def negative(d):
        d["hopsworks"]["gpu_workers"]["count"] = -1

    def even(d):
        d["swarm"]["managers"]["count"] = 2

    def no_flavor(d):
        del d["hopsworks"]["workers"]["flavor"]

    def zero_managers(d):
        d["swarm"]["managers"]["count"] = 0

    assert "unknown key flavour (did you mean flavor?)" in _fails(stack, unknown, "swarm.workers")
    assert "greater than or equal to 0" in _fails(stack, negative, "hopsworks.gpu_workers.count")
    assert "odd number" in _fails(stack, even, "swarm.managers.count")
    assert "required" in _fails(stack, no_flavor, "hopsworks.workers.flavor")
    _fails(stack, zero_managers, "swarm.managers.count")


def test_cross_section_rules_name_the_key():
    def eodata_without_network(d):
        d["swarm"]["workers"]["eodata"] = True

    _fails("ovh", eodata_without_network, "swarm.workers.eodata")

    def routed_secondary(d):
        d["swarm"]["workers"]["networks"] = ["swarm", "hopsworks"]

    _fails("ovh", routed_secondary, "swarm.workers.networks")

    def unknown_role(d):
        d["swarm"]["workers"]["networks"] = ["swarm", "backplane"]

    _fails("ovh", unknown_role, "swarm.workers.networks")

    def ssh_world(d):
        d["access"]["ssh_allowed_cidrs"] = ["0.0.0.0/0"]

    _fails("ovh", ssh_world, "access.ssh_allowed_cidrs")

    def overlapping(d):
        d["network"]["roles"]["data"]["cidr"] = "10.20.0.0/16"

    _fails("ovh", overlapping, "network.roles")

    def public_twice(d):
        d["storage"]["private_containers"].append(d["storage"]["public_container"])

    _fails("ovh", public_twice, "storage.private_containers")


def test_missing_section_is_named():
    data = sections("ovh")
    del data["hopsworks"]
    with pytest.raises(ConfigError, match=r"for hopsworks$"):
        from_mapping("deepcube-platform", "ovh", data)


@pytest.mark.parametrize(
    ("value", "kind"), [(True, "valid integer"), ("3", "valid integer"), (3.0, "valid integer")]
)
def test_loose_types_are_not_coerced(value, kind):
    def edit(d):
        d["hopsworks"]["gpu_workers"]["count"] = value

    assert kind in _fails("ovh", edit, "hopsworks.gpu_workers.count")

    def enabled_as_text(d):
        d["services"].setdefault("portainer", {})["enabled"] = "no"

    assert "valid boolean" in _fails("ovh", enabled_as_text, "services.portainer.enabled")


def test_counts_arrive_typed_through_pulumi_config_json():
    import json

    data = json.loads(json.dumps(sections("ovh")))  # how `load()` receives each section
    cfg = from_mapping("deepcube-platform", "ovh", data)
    assert isinstance(cfg.swarm.workers.count, int) and not isinstance(cfg.swarm.workers.count, bool)


def test_a_misspelt_key_names_the_unknown_and_the_missing_key():
    def misspelt(d):
        d["hopsworks"]["gpu_wrokers"] = d["hopsworks"].pop("gpu_workers")

    message = _fails("ovh", misspelt, "hopsworks")
    assert message == (
        "Invalid configuration: unknown key gpu_wrokers (did you mean gpu_workers?) for hopsworks"
    )

    def unrelated(d):
        d["hopsworks"]["gpus"] = d["hopsworks"].pop("gpu_workers")

    message = _fails("ovh", unrelated, "hopsworks")
    assert message.endswith("unknown key gpus; missing: gpu_workers for hopsworks")


def test_secret_stand_ins_pass_string_patterns_only_where_listed():
    stand_in = "secret-placeholder:deepcube-platform:hopsworks.installer_url:0123456789ab"
    data = sections("ovh")
    data["hopsworks"]["installer_url"] = stand_in
    cfg = from_mapping("deepcube-platform", "ovh", data, secret_stand_ins={stand_in})
    assert cfg.hopsworks.installer_url == stand_in
    with pytest.raises(ConfigError, match=r"\^https://.* for hopsworks.installer_url$"):
        from_mapping("deepcube-platform", "ovh", data)  # the same text as a plain value
    data["hopsworks"]["gpu_workers"]["count"] = stand_in
    with pytest.raises(ConfigError, match=r"valid integer for hopsworks\.gpu_workers\.count$"):
        from_mapping("deepcube-platform", "ovh", data, secret_stand_ins={stand_in})
