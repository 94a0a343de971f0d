"""The homepage through the real gateway: Caddy on loopback with the generated routes, Chromium on top.

The routes and the page are those of the ovh stack's catalogue; only the upstreams are swapped for
loopback stubs (a backend that echoes the path, and an identity stub that accepts one session cookie),
so the test also shows what forward-auth does to a protected route with and without a session.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from components.catalogue import all_specs, build, gateway
from components.catalogue.hub import USE_CASES
from components.render.caddyfile import AuthGate, CaddySite, Route
from semantic.local_postgis import free_port
from tests.platform_services.conftest import stack_context, tool
from tests.platform_services.local_caddy import running_caddy

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "artifacts"
SESSION = "ory_kratos_session=valid"


class _Backend(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"upstream saw {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class _Identity(_Backend):
    """The gatekeeper, reduced to its contract for an administrator's session: 200 for the valid session
    cookie on any route's roles, 401 otherwise (role decisions: test_gatekeeper, test_gateway_roles)."""

    def do_GET(self) -> None:
        ok = self.path.startswith("/roles/") and SESSION in (self.headers.get("Cookie") or "")
        self.send_response(200 if ok else 401)
        if ok:
            self.send_header("X-Deepcube-User-Id", "user-1")
        self.send_header("Content-Length", "0")
        self.end_headers()


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Gateway:
    def __init__(self, url: str, specs: list) -> None:
        self.url = url
        self.specs = specs


@pytest.fixture(scope="module")
def local_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    ctx = stack_context("ovh")
    groups = build(ctx)
    others = [s for g, specs in groups.items() if g != "gateway" for s in specs]
    root = tmp_path_factory.mktemp("gateway")
    (root / "site").mkdir()
    (root / "site" / "index.html").write_text(gateway.homepage_html(ctx, others))
    backend, identity = _serve(_Backend), _serve(_Identity)
    routes = [
        Route(r.path, f"127.0.0.1:{backend.server_port}", r.protected, r.strip_prefix, roles=r.roles)
        for r in gateway.caddy_routes(others)
    ]
    port = free_port()
    site = CaddySite(
        site=f"http://127.0.0.1:{port}",
        routes=routes,
        homepage_root=str(root / "site"),
        auth=AuthGate(upstream=f"127.0.0.1:{identity.server_port}"),
        metrics_listen=None,
        local=True,
    )
    try:
        with running_caddy(site, root, port):
            yield Gateway(f"http://127.0.0.1:{port}", all_specs(groups))
    finally:
        backend.shutdown()
        identity.shutdown()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, cookie: str | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def test_protected_routes_need_a_session(local_gateway):
    status, headers, _ = fetch(f"{local_gateway.url}/grafana/d/abc")
    assert status == 302
    assert headers["Location"].startswith("/auth/login?return_to=http://127.0.0.1")
    assert headers["Location"].endswith("/grafana/d/abc")
    status, _, body = fetch(f"{local_gateway.url}/grafana/d/abc", cookie=SESSION)
    assert (status, body) == (200, "upstream saw /grafana/d/abc")
    status, _, body = fetch(f"{local_gateway.url}/portainer/api/status", cookie=SESSION)
    assert (status, body) == (200, "upstream saw /api/status")  # prefix stripped for Portainer


def test_public_routes_pass_without_a_session(local_gateway):
    ontop = next(s for s in local_gateway.specs if s.name.startswith("ontop-"))
    status, _, body = fetch(f"{local_gateway.url}{ontop.route.path}/sparql")
    assert (status, body) == (200, "upstream saw /sparql")
    status, _, body = fetch(f"{local_gateway.url}/auth/login")
    assert (status, body) == (200, "upstream saw /login")


class _Cards(HTMLParser):
    """module key -> hrefs of its links, from Chromium's serialised DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, list[str]] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = dict(attrs)
        if tag == "li" and "data-module" in values:
            self._current = values["data-module"]
            self.cards[self._current] = []
        elif tag == "a" and self._current:
            self.cards[self._current].append(values.get("href", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "li":
            self._current = None


def chromium(*args: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="chromium-")
    try:
        return subprocess.run(
            [
                tool("chromium"),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--window-size=1280,900",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_chromium_sees_every_enabled_module_listed_and_linked(local_gateway):
    result = chromium("--dump-dom", f"{local_gateway.url}/")
    assert result.returncode == 0, result.stderr[-2000:]
    parser = _Cards()
    parser.feed(result.stdout)
    expected = {s.name: s for s in local_gateway.specs if s.homepage is not None}
    use_cases = {f"usecase-{case.key}": case for case in USE_CASES}
    assert set(parser.cards) == set(expected) | set(use_cases)
    assert {
        "jupyter-proxy",
        "grafana",
        "prometheus",
        "portainer",
        "opensearch-dashboards",
        "sextant",
        "social-api",
        "ontop-fire-risk",
        "kratos-ui",
    } <= set(parser.cards)
    for name, spec in expected.items():
        assert f"{spec.route.path}/{spec.homepage.link_suffix}" in parser.cards[name], name
        assert len(parser.cards[name]) >= 2, name  # the module link and its status link
        status, _, _ = fetch(
            f"{local_gateway.url}{spec.route.path}/{spec.homepage.link_suffix}", cookie=SESSION
        )
        assert status == 200, name  # the link reaches the module's route through the gateway
    for name, case in use_cases.items():
        assert case.url in parser.cards[name], name
        status, _, _ = fetch(f"{local_gateway.url}{case.url}", cookie=SESSION)
        assert status == 200, name  # through the gateway's /jupyter route to the person's own server


def test_chromium_screenshot_is_saved(local_gateway):
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "homepage.png"
    target.unlink(missing_ok=True)
    result = chromium(f"--screenshot={target}", f"{local_gateway.url}/")
    assert result.returncode == 0, result.stderr[-2000:]
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert target.stat().st_size > 10_000
