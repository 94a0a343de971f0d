"""The `oidc-clients` invariant over the real ovh plan: the plan passes; each fault injected where a
module and Hydra meet (a missing or doubled registration, a redirect off the site, a secret that is
not mounted or not secret) is named by `infra.plan check` in one line."""

from __future__ import annotations

import dataclasses
import json

import pytest

from infra.invariants.oidc import POLICY
from infra.manifest import Manifest
from infra.offline import evaluate
from infra.policies import STACK_POLICIES
from tests.infra.test_access_policies import (
    check_lines,
    config,
    replaced,
    service,
    text_of,
    where,
    with_config_text,
)

SECRET = "docker:index/secret:Secret"


@pytest.fixture(scope="module")
def ovh() -> Manifest:
    return evaluate("ovh")


def edit_clients(manifest: Manifest, edit) -> Manifest:
    def change(text: str) -> str:
        document = json.loads(text)
        edit(document["clients"])
        return json.dumps(document)

    return with_config_text(manifest, "clients-json", change)


def ours(lines: list[str]) -> list[str]:
    return [line for line in lines if f": {POLICY}: " in line]


def test_registered_and_the_real_plan_passes(ovh):
    assert STACK_POLICIES[POLICY].__name__ == "oidc_clients"
    clients = json.loads(text_of(config(ovh, "clients-json")))
    assert clients["issuer"] == "https://ovh.deepcube.example.eu/oauth2/"
    by_id = {c["client_id"]: c for c in clients["clients"]}
    assert set(by_id) == {"grafana", "portainer", "jupyter", "opensearch-dashboards", "ci"}
    assert by_id["grafana"]["redirect_uris"] == [
        "https://ovh.deepcube.example.eu/grafana/login/generic_oauth"
    ]
    assert by_id["opensearch-dashboards"]["redirect_uris"] == [
        "https://ovh.deepcube.example.eu/logs/auth/openid/login"
    ]
    assert by_id["opensearch-dashboards"]["post_logout_redirect_uris"] == [
        "https://ovh.deepcube.example.eu/logs"
    ]
    assert by_id["ci"]["grant_types"] == ["client_credentials"] and by_id["ci"]["redirect_uris"] == []
    assert STACK_POLICIES[POLICY](ovh.resources, _ctx(ovh)) == []


def _ctx(manifest: Manifest):
    from infra.policy_model import PolicyContext, PolicySettings

    return PolicyContext(stack="ovh", settings=PolicySettings(), stack_config={})


def test_a_module_without_its_registration_is_named(ovh, monkeypatch, capsys):
    fault = edit_clients(
        ovh, lambda clients: clients.remove(next(c for c in clients if c["client_id"] == "grafana"))
    )
    grafana = where(service(ovh, "grafana"))
    assert ours(check_lines(fault, monkeypatch, capsys)) == [
        f"ovh: {POLICY}: {grafana}: grafana signs in with client 'grafana', registered 0 times (want 1)"
    ]


def test_a_client_registered_twice_is_named(ovh, monkeypatch, capsys):
    fault = edit_clients(
        ovh, lambda clients: clients.append(dict(next(c for c in clients if c["client_id"] == "jupyter")))
    )
    lines = ours(check_lines(fault, monkeypatch, capsys))
    assert any("client 'jupyter' is registered 2 times" in line for line in lines), lines
    assert any("jupyterhub signs in with client 'jupyter', registered 2 times" in line for line in lines), (
        lines
    )


def test_a_redirect_off_the_site_is_named(ovh, monkeypatch, capsys):
    def elsewhere(clients):
        next(c for c in clients if c["client_id"] == "portainer")["redirect_uris"] = [
            "https://evil.example.com/cb"
        ]

    lines = ours(check_lines(edit_clients(ovh, elsewhere), monkeypatch, capsys))
    assert len(lines) == 1
    assert "client 'portainer' redirects to 'https://evil.example.com/cb', not https:// on" in lines[0]


def test_a_post_logout_return_off_the_site_is_named(ovh, monkeypatch, capsys):
    def elsewhere(clients):
        board = next(c for c in clients if c["client_id"] == "opensearch-dashboards")
        board["post_logout_redirect_uris"] = ["http://ovh.deepcube.example.eu/logs"]

    lines = ours(check_lines(edit_clients(ovh, elsewhere), monkeypatch, capsys))
    assert len(lines) == 1
    assert (
        "'opensearch-dashboards' redirects to 'http://ovh.deepcube.example.eu/logs', not https://" in lines[0]
    )


def test_a_plain_http_issuer_is_named(ovh, monkeypatch, capsys):
    def plain(text: str) -> str:
        document = json.loads(text)
        document["issuer"] = document["issuer"].replace("https://", "http://")
        return json.dumps(document)

    lines = ours(check_lines(with_config_text(ovh, "clients-json", plain), monkeypatch, capsys))
    assert len(lines) == 1 and "issuer 'http://ovh.deepcube.example.eu/oauth2/' is not https" in lines[0]


def test_a_client_secret_the_module_does_not_mount_is_named(ovh, monkeypatch, capsys):
    record = service(ovh, "grafana")
    container = record.inputs["taskSpec"]["containerSpec"]
    kept = [s for s in container["secrets"] if s["fileName"] != "oidc_grafana_client_secret"]
    assert len(kept) == len(container["secrets"]) - 1
    inputs = {
        **record.inputs,
        "taskSpec": {**record.inputs["taskSpec"], "containerSpec": {**container, "secrets": kept}},
    }
    fault = replaced(ovh, record, dataclasses.replace(record, inputs=inputs))
    assert ours(check_lines(fault, monkeypatch, capsys)) == [
        f"ovh: {POLICY}: {where(record)}: grafana: client secret 'oidc_grafana_client_secret' is not mounted "
        "as a Docker secret"
    ]


def test_a_client_secret_in_the_clear_is_named(ovh, monkeypatch, capsys):
    (secret,) = [r for r in ovh.of_type(SECRET) if r.name.endswith("-secret-oidc-ci-client-secret")]
    fault = replaced(ovh, secret, dataclasses.replace(secret, secret_inputs=[]))
    lines = ours(check_lines(fault, monkeypatch, capsys))
    assert lines == [
        f"ovh: {POLICY}: {where(config(ovh, 'clients-json'))}: client 'ci': secret 'oidc_ci_client_secret' "
        "is not a Docker secret of the hydra-clients job"
    ]
