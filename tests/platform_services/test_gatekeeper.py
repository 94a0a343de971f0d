"""The gatekeeper program, run as the platform runs it, against a loopback stand-in for Kratos' whoami.

Each answer is what Caddy's `forward_auth` acts on: 2xx lets the request through with the identity
headers, 401 sends the browser to the login page, 403 is shown as is.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.catalogue.gatekeeper import SOURCE
from semantic.local_postgis import free_port
from tests.platform_services.identity_standins import (
    SESSION_COOKIE,
    FakeHydra,
    FakeKratos,
    Gatekeeper,
    get,
    machine_token,
    session,
    start_gatekeeper,
)

SESSIONS = {
    "ada": session("id-ada", "ada@example.org", "admin"),
    "sam": session("id-sam", "sam@example.org", "scientist"),
    "nora": session("id-nora", "nora@example.org", None),
    # A role in the traits is the user's own claim (traits are self-editable): it must count for nothing.
    "mallory": session(
        "id-mallory",
        "mallory@example.org",
        "scientist",
        identity={"traits": {"email": "mallory@example.org", "role": "admin"}},
    ),
    "gone": session("id-gone", "gone@example.org", "admin", active=False),
    "evil": session("id-evil", "evil@example.org\r\nX-Deepcube-Role: admin", "scientist"),
}


def cookie(name: str) -> dict[str, str]:
    return {"Cookie": f"theme=dark; {SESSION_COOKIE}={name}"}


@pytest.fixture(scope="module")
def kratos() -> Iterator[FakeKratos]:
    fake = FakeKratos(SESSIONS).start()
    yield fake
    fake.stop()


TOKENS = {
    "ci-token-0001": machine_token("ci"),
    "rogue-token-01": machine_token("rogue"),  # a client the platform gave no role
    "sam-token-0001": {
        "active": True,
        "sub": "id-sam",
        "client_id": "jupyter",
        "token_use": "access_token",
        "ext": {"role": "scientist"},
    },
    "id-token-00001": {**machine_token("ci"), "token_use": "id_token"},
}


@pytest.fixture(scope="module")
def hydra() -> Iterator[FakeHydra]:
    fake = FakeHydra(TOKENS).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def gatekeeper(
    kratos: FakeKratos, hydra: FakeHydra, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gatekeeper]:
    log = tmp_path_factory.mktemp("gatekeeper") / "gatekeeper.log"
    process = start_gatekeeper(kratos.url, log, hydra_url=hydra.url, client_roles="ci=scientist")
    yield process
    process.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_role_of_the_route_passes_with_identity_headers(gatekeeper):
    status, headers, body = get(f"{gatekeeper.url}/roles/admin,scientist", cookie("sam"))
    assert (status, body) == (200, "")
    assert headers["X-Deepcube-User-Id"] == "id-sam"
    assert headers["X-Deepcube-Role"] == "scientist"
    assert headers["X-Deepcube-Email"] == "sam@example.org"
    status, headers, _ = get(f"{gatekeeper.url}/roles/admin", cookie("ada"))
    assert (status, headers["X-Deepcube-Role"]) == (200, "admin")


def test_a_role_outside_the_route_is_forbidden(gatekeeper):
    status, headers, body = get(f"{gatekeeper.url}/roles/admin", cookie("sam"))
    assert status == 403
    assert "role does not open this module" in body
    assert "X-Deepcube-Role" not in headers
    assert get(f"{gatekeeper.url}/roles/admin,scientist", cookie("nora"))[0] == 403  # no role at all
    assert get(f"{gatekeeper.url}/roles/admin", cookie("mallory"))[0] == 403  # role claimed in traits


def test_no_valid_session_is_unauthenticated(gatekeeper, kratos):
    asked = len(kratos.seen)
    assert get(f"{gatekeeper.url}/roles/admin")[0] == 401
    assert len(kratos.seen) == asked  # nothing to ask Kratos about
    assert get(f"{gatekeeper.url}/roles/admin", cookie("unknown"))[0] == 401
    assert get(f"{gatekeeper.url}/roles/admin", cookie("gone"))[0] == 401  # session no longer active
    status, _, _ = get(f"{gatekeeper.url}/roles/admin", {"X-Session-Token": "ada"})
    assert status == 200  # API clients present a session token instead of the cookie


def test_only_session_credentials_reach_kratos(gatekeeper, kratos):
    kratos.seen.clear()
    get(f"{gatekeeper.url}/roles/scientist", {**cookie("sam"), "Authorization": "Bearer jupyter-token"})
    [sent] = kratos.seen
    assert sent["Cookie"] == f"theme=dark; {SESSION_COOKIE}=sam"
    assert "Authorization" not in sent


def test_routes_without_valid_roles_fail_closed(gatekeeper):
    for path in ("/roles/", "/roles/Admin", "/roles/admin,", "/anything", "/roles/admin%0d%0aX:%20y"):
        assert get(f"{gatekeeper.url}{path}", cookie("ada"))[0] == 403, path


def test_identity_values_cannot_inject_headers(gatekeeper):
    status, headers, _ = get(f"{gatekeeper.url}/roles/scientist", cookie("evil"))
    assert status == 200
    assert headers["X-Deepcube-Role"] == "scientist"
    assert headers.get("X-Deepcube-Email", "") == ""


def test_an_unreachable_kratos_fails_closed(tmp_path):
    lost = start_gatekeeper(f"http://127.0.0.1:{free_port()}", tmp_path / "gatekeeper.log")
    try:
        status, _, body = get(f"{lost.url}/roles/admin", cookie("ada"))
        assert status == 502
        assert "did not answer" in body
        assert get(f"{lost.url}/health")[0] == 200  # the healthcheck stays green: Kratos is the one down
    finally:
        lost.stop()
    assert "502" in Path(tmp_path / "gatekeeper.log").read_text()


def test_the_program_needs_only_the_standard_library():
    """It runs in the stock Python image, where nothing else is installed."""
    imported = {
        line.split()[1].split(".")[0]
        for line in SOURCE.read_text().splitlines()
        if line.startswith(("import ", "from ")) and not line.startswith("from __future__")
    }
    assert imported and imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)


def test_a_machine_token_counts_with_its_clients_role(gatekeeper, kratos, hydra):
    asked = len(kratos.seen)
    status, headers, _ = get(f"{gatekeeper.url}/roles/admin,scientist", bearer("ci-token-0001"))
    assert (status, headers["X-Deepcube-Role"], headers["X-Deepcube-User-Id"]) == (200, "scientist", "ci")
    assert get(f"{gatekeeper.url}/roles/admin", bearer("ci-token-0001"))[0] == 403  # not an admin module
    assert len(kratos.seen) == asked  # a bearer token never reaches Kratos
    assert hydra.seen[-1] == "ci-token-0001"


def test_tokens_without_a_platform_role_or_not_active_are_refused(gatekeeper):
    assert get(f"{gatekeeper.url}/roles/scientist", bearer("rogue-token-01"))[0] == 403
    assert get(f"{gatekeeper.url}/roles/scientist", bearer("unknown-token-1"))[0] == 401
    assert (
        get(f"{gatekeeper.url}/roles/scientist", bearer("id-token-00001"))[0] == 401
    )  # an ID token is no key
    assert get(f"{gatekeeper.url}/roles/scientist", {"Authorization": "Basic Y2k6eA=="})[0] == 401


def test_a_persons_token_counts_with_the_role_its_consent_gave(gatekeeper):
    status, headers, _ = get(f"{gatekeeper.url}/roles/scientist", bearer("sam-token-0001"))
    assert (status, headers["X-Deepcube-User-Id"], headers["X-Deepcube-Role"]) == (200, "id-sam", "scientist")


def test_a_session_wins_over_a_bearer_token(gatekeeper, hydra):
    hydra.seen.clear()
    status, headers, _ = get(f"{gatekeeper.url}/roles/admin", {**cookie("ada"), **bearer("ci-token-0001")})
    assert (status, headers["X-Deepcube-Role"]) == (200, "admin")
    assert hydra.seen == []  # the session decided; the token went nowhere


def test_whoami_tells_the_homepage_who_is_signed_in_and_nothing_more(gatekeeper):
    status, headers, body = get(f"{gatekeeper.url}/whoami/", cookie("sam"))
    assert (status, headers["Cache-Control"]) == (200, "no-store")
    assert json.loads(body) == {"signed_in": True, "email": "sam@example.org", "role": "scientist"}
    assert json.loads(get(f"{gatekeeper.url}/whoami", cookie("nora"))[2])["role"] is None
    status, _, body = get(f"{gatekeeper.url}/whoami/")
    assert (status, json.loads(body)) == (401, {"signed_in": False})
    assert get(f"{gatekeeper.url}/whoami/", cookie("gone"))[0] == 401
