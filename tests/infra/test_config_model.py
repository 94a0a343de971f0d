"""The stack config model: real stacks validate; wrong keys or values fail naming the YAML key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.config import from_mapping, sections_of
from infra.config_errors import ConfigError
from infra.stack_files import read_stack


def sections(stack: str) -> dict[str, Any]:
    project, config = read_stack(stack)
    return copy.deepcopy(sections_of(project.name, config.values))


@pytest.mark.parametrize("stack", ["ovh", "creodias"])
def test_real_stacks_validate(stack):
    cfg = from_mapping("deepcube-platform", stack, sections(stack))
    assert cfg.swarm.managers.count % 2 == 1
    assert cfg.hopsworks.gpu_workers.flavor
    assert cfg.cloud.object_storage.api == "swift-s3api"
    assert cfg.cloud.object_storage.endpoint.startswith("https://s3.")
    assert cfg.network.mtu == 1450  # Pulumi.yaml says nothing: the VXLAN tenant network default


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

    assert "unknown key 'flavour' (did you mean 'flavor'?)" in _fails(stack, unknown, "swarm.workers.flavour")
    assert "greater than or equal to 0" in _fails(stack, negative, "hopsworks.gpu_workers.count")
    assert "odd number" in _fails(stack, even, "swarm.managers.count")
    assert "missing required key" in _fails(stack, no_flavor, "hopsworks.workers.flavor")
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
    ("value", "kind"),
    [(True, "expected an integer, found True"), ("3", "expected an integer, found '3'"), (3.0, "found 3.0")],
)
def test_loose_types_are_not_coerced(value, kind):
    def edit(d):
        d["hopsworks"]["gpu_workers"]["count"] = value

    assert kind in _fails("ovh", edit, "hopsworks.gpu_workers.count")

    def enabled_as_text(d):
        d["services"].setdefault("portainer", {})["enabled"] = "no"

    assert "expected true or false, found 'no'" in _fails(
        "ovh", enabled_as_text, "services.portainer.enabled"
    )


def test_counts_arrive_typed_through_pulumi_config_json():
    import json

    data = json.loads(json.dumps(sections("ovh")))  # how `load()` receives each section
    cfg = from_mapping("deepcube-platform", "ovh", data)
    assert isinstance(cfg.swarm.workers.count, int) and not isinstance(cfg.swarm.workers.count, bool)


def test_a_misspelt_key_names_the_unknown_and_the_missing_key():
    def misspelt(d):
        d["hopsworks"]["gpu_wrokers"] = d["hopsworks"].pop("gpu_workers")

    message = _fails("ovh", misspelt, "hopsworks.gpu_workers")
    assert message == (
        "Invalid configuration: unknown key 'gpu_wrokers' (did you mean 'gpu_workers'?) for "
        "hopsworks.gpu_wrokers; missing required key for hopsworks.gpu_workers"
    )

    def unrelated(d):
        d["hopsworks"]["gpus"] = d["hopsworks"].pop("gpu_workers")

    message = _fails("ovh", unrelated, "hopsworks.gpu_workers")
    assert message.endswith(
        "unknown key 'gpus' for hopsworks.gpus; missing required key for hopsworks.gpu_workers"
    )


def test_secret_stand_ins_pass_string_patterns_only_where_listed():
    stand_in = "secret-placeholder:deepcube-platform:hopsworks.installer_url:0123456789ab"
    data = sections("ovh")
    data["hopsworks"]["installer_url"] = stand_in
    cfg = from_mapping("deepcube-platform", "ovh", data, secret_stand_ins={stand_in})
    assert cfg.hopsworks.installer_url == stand_in
    with pytest.raises(ConfigError, match=r"\^https://.* for hopsworks.installer_url$"):
        from_mapping("deepcube-platform", "ovh", data)  # the same text as a plain value
    data["hopsworks"]["gpu_workers"]["count"] = stand_in
    with pytest.raises(
        ConfigError, match=r"expected an integer, found .* for hopsworks\.gpu_workers\.count$"
    ):
        from_mapping("deepcube-platform", "ovh", data, secret_stand_ins={stand_in})


# -- object storage: one explicit model, consistent with itself and with the compute region ---------


def storage(**values: str):
    def edit(d):
        d["cloud"]["object_storage"].update(values)

    return edit


@pytest.mark.parametrize(
    ("stack", "values", "key", "says"),
    [
        # The compute region left where the object store's belongs, with the right endpoint.
        ("ovh", {"region": "GRA9"}, "region", "GRA9 is the compute region (cloud.region)"),
        # ... and with an endpoint made up to match it: OVH's Swift regions are not its compute regions.
        (
            "ovh",
            {"region": "GRA9", "endpoint": "https://s3.gra9.cloud.ovh.net", "signing_region": "gra9"},
            "region",
            "object store regions are not its compute regions",
        ),
        ("ovh", {"region": "SBG"}, "endpoint", "serves region gra, not cloud.object_storage.region SBG"),
        ("ovh", {"signing_region": "us-east-1"}, "signing_region", "expects requests signed for 'gra'"),
        ("ovh", {"signing_region": "GRA"}, "signing_region", "not 'GRA'"),
        ("ovh", {"api": "s3"}, "api", "only Swift's S3 API serves (api: swift-s3api)"),
        ("ovh", {"endpoint": "https://s3.gra.io.cloud.ovh.net"}, "endpoint", "OVH's S3 Object Storage"),
        ("ovh", {"endpoint": "https://storage.gra.cloud.ovh.net"}, "endpoint", "is not OVH's S3 endpoint"),
        ("ovh", {"endpoint": "http://s3.gra.cloud.ovh.net"}, "endpoint", "should match pattern"),
        ("creodias", {"region": "WAW3-2"}, "endpoint", "serves region waw3-1, not"),
        ("creodias", {"signing_region": "default"}, "signing_region", "signed for 'waw3-1'"),
        ("creodias", {"endpoint": "https://s3.waw3-2.cloudferro.com"}, "endpoint", "serves region waw3-2"),
    ],
)
def test_an_inconsistent_object_storage_names_its_key(stack, values, key, says):
    message = _fails(stack, storage(**values), f"cloud.object_storage.{key}")
    assert says in message, message
    assert "\n" not in message


def test_the_object_storage_is_stated_not_guessed():
    def missing(d):
        del d["cloud"]["object_storage"]

    assert "missing required key" in _fails("ovh", missing, "cloud.object_storage")

    def old_shape(d):
        d["cloud"]["s3_endpoint"] = d["cloud"].pop("object_storage")["endpoint"]

    message = _fails("ovh", old_shape, "cloud.object_storage")
    assert message == (
        "Invalid configuration: unknown key 's3_endpoint' (moved to cloud.object_storage.endpoint) "
        "for cloud.s3_endpoint; missing required key for cloud.object_storage"
    )


def test_an_endpoint_outside_the_known_providers_keeps_the_stated_regions():
    """A private or stand-in S3 server (the box's) names no region in its host: nothing to compare."""
    data = sections("ovh")
    data["cloud"]["object_storage"]["endpoint"] = "https://s3.box.internal"
    store = from_mapping("deepcube-platform", "ovh", data).cloud.object_storage
    assert (store.region, store.signing_region) == ("GRA", "gra")
    # CloudFerro keeps compute and object store in one region: that is not an accident there.
    creodias = from_mapping("deepcube-platform", "creodias", sections("creodias"))
    assert creodias.cloud.object_storage.region == creodias.cloud.region == "WAW3-1"


# -- node network MTU and EODATA keys ---------------------------------------------------------------------


def test_the_node_network_mtu_is_a_checked_number():
    def small(d):
        d["network"]["mtu"] = 1000

    def text(d):
        d["network"]["mtu"] = "1450"

    assert "greater than or equal to 1280" in _fails("ovh", small, "network.mtu")
    assert "expected an integer" in _fails("ovh", text, "network.mtu")


def test_eodata_keys_must_look_like_access_and_secret_and_are_never_echoed():
    def one_part(d):
        d["cloud"]["eodata"]["credentials"] = "AKIDONLYNOSECRET"

    message = _fails("creodias", one_part, "cloud.eodata.credentials")
    assert "AKIDONLYNOSECRET" not in message
