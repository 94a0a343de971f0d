"""The `services` stack value: defaults, pinning, and errors that name the YAML key."""

from __future__ import annotations

import pytest

from infra.services_config import ServicesConfigError, parse
from tests.platform_services.stacks import STACKS, services_value

MINIMAL = {
    "domain": "platform.example.org",
    "acme_email": "ops@example.org",
    "registry": {"server": "registry.example.org", "namespace": "deepcube"},
}


@pytest.mark.parametrize("stack", STACKS)
def test_both_stacks_validate(stack):
    config = parse(services_value(stack))
    assert config.gateway.enabled and config.identity.enabled


def test_defaults_are_complete_and_pinned():
    config = parse(MINIMAL)
    assert config.data.ontop_image == "ontop/ontop:5.4.0"
    assert not config.social_media.enabled


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"monitoring": {"enabeld": False}},
            "unknown key 'enabeld' \\(did you mean 'enabled'\\?\\) for services.monitoring.enabeld",
        ),
        (
            {"monitoring": {"grafana_image": "grafana/grafana:latest"}},
            "moving tag.* for services.monitoring.grafana_image",
        ),
        (
            {"logs": {"opensearch_image": "opensearchproject/opensearch"}},
            "not pinned.* for services.logs.opensearch_image",
        ),
        (
            {"data": {"ontop_image": "ontop/ontop:5.1.2"}},
            "Ontop 5.4 or later.* for services.data.ontop_image",
        ),
        ({"gateway": {"enabled": False}}, "cannot be disabled.* for services.gateway.enabled"),
        (
            {"gateway": {"postgis_clients": ["0.0.0.0/0"]}},
            "whole internet.* for services.gateway.postgis_clients",
        ),
        ({"identity": {"enabled": False}}, "identity must be enabled to protect the admin UIs"),
        ({"social_media": {"enabled": True}}, "api_image and worker_image are required"),
        ({"domain": "Not A Domain"}, "for services.domain"),
        (
            {"gateway": {"postgis_prot": 5433}},
            r"^Invalid configuration: unknown key 'postgis_prot' \(did you mean 'postgis_port'\?\) "
            r"for services.gateway.postgis_prot$",
        ),
        (
            {"gateway": {"postgis_port": "many"}},
            "expected an integer, found 'many' for services.gateway.postgis_port",
        ),
    ],
)
def test_invalid_values_name_the_key(change, message):
    value = {**MINIMAL, **change}
    with pytest.raises(ServicesConfigError, match=message):
        parse(value)


def test_identity_may_be_off_when_no_admin_ui_is():
    value = {
        **MINIMAL,
        "identity": {"enabled": False},
        "monitoring": {"enabled": False},
        "logs": {"enabled": False},
        "portainer": {"enabled": False},
    }
    assert not parse(value).identity.enabled
