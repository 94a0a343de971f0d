"""Swarm object names Docker accepts: the policy names a bad one, and content names always fit."""

from __future__ import annotations

import pytest

from components.service_spec import SWARM_OBJECT_NAME_MAX, content_name
from infra.policies import RESOURCE_POLICIES
from tests.infra.test_platform_plan import STACKS, manifest
from tests.infra.test_wiring_invariants import changed, check, lines

SECRET = "docker:index/secret:Secret"
CONFIG = "docker:index/serviceConfig:ServiceConfig"
SERVICE = "docker:index/service:Service"


def test_the_policy_is_registered() -> None:
    assert "swarm-object-names" in RESOURCE_POLICIES


@pytest.mark.parametrize("stack", STACKS)
def test_every_swarm_object_name_of_the_real_plans_fits(stack: str) -> None:
    m = manifest(stack)
    names = [str(r.inputs["name"]) for r in m.resources if r.type in (SECRET, CONFIG)]
    assert names and max(len(n) for n in names) <= SWARM_OBJECT_NAME_MAX
    assert not [v for v in check(m) if v.policy == "swarm-object-names"]


@pytest.mark.parametrize(
    ("kind", "bad", "words"),
    [
        (
            SECRET,
            "deepcube-platform-ovh-oidc_opensearch_dashboards_client_secret-632617e0a2ad",
            "(75 characters)",
        ),
        (CONFIG, "deepcube-platform-ovh-grafana-dashboards-" + "x" * 30, "at most 64 characters"),
        (CONFIG, "deepcube-platform-ovh-grafana-config-", "ending alphanumeric"),
        (SERVICE, "deepcube-platform-ovh-opensearch_dashboards", "a DNS label"),
    ],
)
def test_a_name_docker_refuses_is_named_in_one_line(kind: str, bad: str, words: str) -> None:
    m = manifest("ovh")
    first = next(r for r in m.resources if r.type == kind)
    broken = changed(m, lambda r: r.urn == first.urn, lambda inputs: inputs.update(name=bad))
    found = [line for line in lines(check(broken)) if "swarm-object-names" in line]
    assert len(found) == 1 and repr(bad) in found[0] and words in found[0], found


def test_content_names_are_cut_to_fit_and_stay_distinct() -> None:
    for prefix in ("deepcube-platform-ovh", "deepcube-platform-creodias", "p" * 60):
        a = content_name(prefix, "oidc_opensearch_dashboards_client_secret", "same")
        b = content_name(prefix, "oidc_opensearch_dashboards_cookie_password", "same")
        assert len(a) <= SWARM_OBJECT_NAME_MAX and len(b) <= SWARM_OBJECT_NAME_MAX and a != b
        assert a[-1].isalnum() and a[0].isalnum()
    ovh = content_name("deepcube-platform-ovh", "jupyterhub-jupyterhub-config", "x")
    creodias = content_name("deepcube-platform-creodias", "jupyterhub-jupyterhub-config", "x")
    assert ovh.replace("-ovh-", "-creodias-") == creodias  # the same key is cut the same way in every stack
    assert content_name("deepcube-platform-ovh", "grafana-ini", "x").startswith(
        "deepcube-platform-ovh-grafana-ini-"
    )
