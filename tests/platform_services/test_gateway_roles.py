"""Roles at the real gateway: Caddy with the Caddyfile the program renders, the real gatekeeper, a
stand-in Kratos, and stand-in modules, all on loopback.

The Caddyfile is the ovh stack's, rendered from its catalogue; only the site address and the upstream
hosts are swapped for loopback ones (Caddy's local mode: plain HTTP, no admin API). What a browser
sees: no session -> the login page; a scientist -> JupyterHub yes, Portainer and every other admin
module no (403); an administrator -> both. Identity headers reach the module from the gatekeeper only.
A machine with a client-credentials token (introspected at a stand-in of Hydra's admin API) opens
what its client's role opens; `/whoami/` tells the homepage who is signed in.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.catalogue import build, gateway
from components.catalogue import gatekeeper as gatekeeper_spec
from components.catalogue.common import ADMIN_SERVICES
from components.catalogue.identity import MACHINE_CLIENTS
from semantic.local_postgis import free_port
from tests.platform_services.conftest import stack_context
from tests.platform_services.identity_standins import (
    SESSION_COOKIE,
    FakeHydra,
    FakeKratos,
    echo_module,
    get,
    machine_token,
    session,
    start_gatekeeper,
)
from tests.platform_services.local_caddy import running_caddy

SESSIONS = {
    "ada": session("id-ada", "ada@example.org", "admin"),
    "sam": session("id-sam", "sam@example.org", "scientist"),
}


@dataclass
class LocalGateway:
    url: str
    paths: dict[str, str]
    """Service name -> its route path."""

    def open(self, service: str, who: str | None = None, **headers: str) -> tuple[int, dict, str]:
        if who:
            headers["Cookie"] = f"{SESSION_COOKIE}={who}"
        return get(f"{self.url}{self.paths[service]}/", headers)


@pytest.fixture(scope="module")
def local_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGateway]:
    root = tmp_path_factory.mktemp("gateway-roles")
    ctx = stack_context("ovh")
    others = [s for g, specs in build(ctx).items() if g != "gateway" for s in specs]
    production = gateway.caddy_site(ctx, others)
    modules = {r.upstream.split(":")[0]: echo_module(r.upstream.split(":")[0]) for r in production.routes}
    kratos = FakeKratos(SESSIONS).start()
    hydra = FakeHydra({"ci-token-0001": machine_token("ci")}).start()
    keeper = start_gatekeeper(
        kratos.url, root / "gatekeeper.log", hydra.url, gatekeeper_spec.client_roles(MACHINE_CLIENTS)
    )
    ports = {host: module.server_port for host, module in modules.items()}
    ports["gatekeeper"] = keeper.port  # /whoami goes to the real gatekeeper
    (root / "site").mkdir()
    (root / "site" / "index.html").write_text("<h1>home</h1>")
    port = free_port()
    site = dataclasses.replace(
        production,
        site=f"http://127.0.0.1:{port}",
        routes=[
            dataclasses.replace(r, upstream=f"127.0.0.1:{ports[r.upstream.split(':')[0]]}")
            for r in production.routes
        ],
        auth=dataclasses.replace(production.auth, upstream=f"127.0.0.1:{keeper.port}"),
        homepage_root=str(root / "site"),
        email=None,
        metrics_listen=None,
        local=True,
    )
    try:
        with running_caddy(site, root, port):
            yield LocalGateway(
                f"http://127.0.0.1:{port}", {r.upstream.split(":")[0]: r.path for r in production.routes}
            )
    finally:
        keeper.stop()
        kratos.stop()
        hydra.stop()
        for module in modules.values():
            module.shutdown()


def test_no_session_goes_to_the_login_page(local_gateway):
    for service in ("jupyter-proxy", "portainer"):
        status, headers, _ = local_gateway.open(service)
        assert status == 302, service
        assert (
            headers["Location"] == f"/auth/login?return_to={local_gateway.url}{local_gateway.paths[service]}/"
        )


def test_a_scientist_opens_jupyter_but_no_admin_module(local_gateway):
    status, _, body = local_gateway.open("jupyter-proxy", "sam")
    assert status == 200
    seen = json.loads(body)
    assert seen["module"] == "jupyter-proxy"
    assert seen["headers"] == {
        "X-Deepcube-User-Id": "id-sam",
        "X-Deepcube-Role": "scientist",
        "X-Deepcube-Email": "sam@example.org",
    }
    for service in ADMIN_SERVICES:
        status, _, body = local_gateway.open(service, "sam")
        assert status == 403, service
        assert "role does not open this module" in body, service


def test_an_administrator_opens_both(local_gateway):
    status, _, body = local_gateway.open("jupyter-proxy", "ada")
    assert (status, json.loads(body)["headers"]["X-Deepcube-Role"]) == (200, "admin")
    status, _, body = local_gateway.open("portainer", "ada")
    assert status == 200
    assert json.loads(body)["module"] == "portainer"
    assert json.loads(body)["path"] == "/"  # Portainer's prefix is stripped


def test_identity_headers_from_the_client_are_replaced(local_gateway):
    status, _, body = local_gateway.open("jupyter-proxy", "sam", **{"X-Deepcube-Role": "admin"})
    assert (status, json.loads(body)["headers"]["X-Deepcube-Role"]) == (200, "scientist")
    assert local_gateway.open("portainer", "sam", **{"X-Deepcube-Role": "admin"})[0] == 403
    assert local_gateway.open("portainer", None, **{"X-Deepcube-Role": "admin"})[0] == 302


def test_public_routes_ask_nobody(local_gateway):
    status, _, body = local_gateway.open("kratos-ui")
    assert (status, json.loads(body)["headers"]) == (200, {})


def test_the_gatekeeper_logged_each_decision(local_gateway, tmp_path_factory):
    log = next(Path(tmp_path_factory.getbasetemp()).glob("gateway-roles*/gatekeeper.log")).read_text()
    assert "403 '/portainer/'" in log
    assert "200 '/jupyter/' id-sam as scientist" in log
    assert SESSION_COOKIE not in log  # decisions are logged, credentials are not


def test_a_machine_token_opens_what_its_clients_role_opens(local_gateway):
    token = {"Authorization": "Bearer ci-token-0001"}
    status, _, body = local_gateway.open("jupyter-proxy", **token)
    assert status == 200
    assert json.loads(body)["headers"]["X-Deepcube-Role"] == "scientist"
    assert json.loads(body)["headers"]["X-Deepcube-User-Id"] == "ci"
    assert local_gateway.open("portainer", **token)[0] == 403
    assert local_gateway.open("jupyter-proxy", Authorization="Bearer forged-token-1")[0] == 302  # not active


def test_whoami_through_the_gateway(local_gateway):
    status, _, body = get(f"{local_gateway.url}/whoami/", {"Cookie": f"{SESSION_COOKIE}=sam"})
    assert (status, json.loads(body)) == (
        200,
        {"signed_in": True, "email": "sam@example.org", "role": "scientist"},
    )
    status, _, body = get(f"{local_gateway.url}/whoami/")
    assert (status, json.loads(body)) == (401, {"signed_in": False})
    # Only /whoami is routed to the gatekeeper: its role check is for Caddy, not for browsers.
    assert get(f"{local_gateway.url}/roles/admin", {"Cookie": f"{SESSION_COOKIE}=ada"})[0] == 404
