"""Loopback stand-ins for the identity tests: Kratos' whoami, the gatekeeper process, web modules.

Kratos cannot run here, so its public `/sessions/whoami` is reduced to its documented contract: 200
with the session (identity id, state, traits, `metadata_public`) for a known `ory_kratos_session`
cookie or `X-Session-Token`, 401 otherwise. The gatekeeper itself is the real program, started as a
process exactly as the platform starts it (`python -I gatekeeper.py`, settings in the environment).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from components.catalogue.gatekeeper import SOURCE
from semantic.local_postgis import free_port
from tests.services import wait_for_port

SESSION_COOKIE = "ory_kratos_session"


def session(identity_id: str, email: str, role: str | None, **changes: Any) -> dict[str, Any]:
    """A whoami body as Kratos v1.2 returns it (only the fields the gatekeeper reads, plus a few)."""
    identity = {
        "id": identity_id,
        "schema_id": "default",
        "state": "active",
        "traits": {"email": email},
        "metadata_public": {"role": role} if role else None,
    }
    identity.update(changes.pop("identity", {}))
    return {"id": f"session-of-{identity_id}", "active": True, "identity": identity, **changes}


@dataclass
class FakeKratos:
    """`GET /sessions/whoami` answered from `sessions` (cookie value -> body); records what it was sent."""

    sessions: Mapping[str, dict[str, Any]]
    seen: list[dict[str, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> FakeKratos:
        kratos = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                kratos.seen.append(dict(self.headers))
                token = self.headers.get("X-Session-Token") or _cookie(self.headers.get("Cookie", ""))
                body = kratos.sessions.get(token or "") if self.path == "/sessions/whoami" else None
                refused = {"error": {"code": 401, "status": "Unauthorized"}}
                answer_json(self, 200 if body else 401, body or refused)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = serve(Handler)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()


@dataclass
class FakeHydra:
    """`POST /admin/oauth2/introspect` answered from `tokens` (token -> introspection body), as Hydra
    v2's admin API does: `{"active": false}` for a token it does not know."""

    tokens: Mapping[str, dict[str, Any]]
    seen: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> FakeHydra:
        hydra = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                token = (form.get("token") or [""])[0]
                hydra.seen.append(token)
                known = self.path == "/admin/oauth2/introspect"
                answer_json(self, 200 if known else 404, hydra.tokens.get(token, {"active": False}))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = serve(Handler)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()


def machine_token(client_id: str) -> dict[str, Any]:
    """Introspection of a client-credentials token: its subject is the client itself."""
    return {
        "active": True,
        "sub": client_id,
        "client_id": client_id,
        "token_use": "access_token",
        "scope": "api",
    }


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE:
            return value
    return None


class EchoModule(BaseHTTPRequestHandler):
    """A web module that answers with what reached it: its name, the path and the identity headers."""

    name = "module"

    def do_GET(self) -> None:
        seen = {k: v for k, v in self.headers.items() if k.lower().startswith("x-deepcube-")}
        answer_json(self, 200, {"module": self.name, "path": self.path, "headers": seen})

    def log_message(self, *args: Any) -> None:
        pass


def echo_module(name: str) -> ThreadingHTTPServer:
    return serve(type(f"Echo_{name}", (EchoModule,), {"name": name}))


def answer_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    """Answer a stand-in request with `body` as JSON."""
    payload = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class Gatekeeper:
    """The gatekeeper program in its own process, on loopback."""

    process: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_gatekeeper(
    kratos_url: str, log: Path, hydra_url: str | None = None, client_roles: str = ""
) -> Gatekeeper:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "KRATOS_PUBLIC_URL": kratos_url,
        "GATEKEEPER_LISTEN": f"127.0.0.1:{port}",
        "GATEKEEPER_TIMEOUT": "3",
        "GATEKEEPER_CLIENT_ROLES": client_roles,
        **({"HYDRA_ADMIN_URL": hydra_url} if hydra_url else {}),
    }
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-I", str(SOURCE)], env=env, stdout=out, stderr=out)
    wait_for_port(port, timeout=20, process=process)
    return Gatekeeper(process, port, log)


def get(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """One GET on loopback: no proxy, no redirect following; (status, headers, body)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
