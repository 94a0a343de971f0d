"""The gateway's role check: answers Caddy's `forward_auth` from the user's Kratos session.

Kratos says who a request belongs to (`/sessions/whoami`) but not what that person may open, so
the gateway asks this program for every protected route. Caddy calls `GET /roles/<role>,<role>`
(the roles that may open the route, written by the Caddyfile, never by the client) and forwards the
browser's headers; the answer is
- 200 with `X-Deepcube-User-Id`, `X-Deepcube-Role` and `X-Deepcube-Email`, which Caddy copies onto
  the proxied request, when the session is active and its role is one of the route's;
- 401 when there is no valid session (Caddy then redirects to the login page);
- 403 when the session's role (Kratos `metadata_public.role`, settable only through Kratos' admin
  API) is missing or not one of the route's;
- 502 when Kratos cannot be asked: the check fails closed.

Machines (CI, scripts, the loader) have no browser session: they present an OAuth2 access token
(`Authorization: Bearer ...`) obtained from Hydra with the client-credentials flow. Without a
session credential, the gatekeeper asks Hydra's token introspection (admin API) about it: an
active token of a machine client counts with the role the platform gave that client
(`GATEKEEPER_CLIENT_ROLES`, e.g. `ci=scientist`), an active token issued to a person counts with
the role the consent service put into it (`ext.role`). Session cookies never reach Hydra and
bearer tokens never reach Kratos.

`GET /whoami` answers the homepage's question "who is signed in?": 200 with the e-mail and role of
the session, or 401; the page hides the modules the role cannot open.

Standard library only, one file: it runs unchanged in the stock Python image (the platform mounts
it as a Swarm config) and in tests. Settings come from the environment: `KRATOS_PUBLIC_URL`
(default `http://kratos:4433`), `HYDRA_ADMIN_URL` (unset: bearer tokens are not accepted),
`GATEKEEPER_CLIENT_ROLES`, `GATEKEEPER_LISTEN` (default `0.0.0.0:4180`), `GATEKEEPER_TIMEOUT`
seconds (default 5).
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

ROLE_PATH = "/roles/"
HEALTH_PATH = "/health"
WHOAMI_PATHS = ("/whoami", "/whoami/")
USER_HEADER = "X-Deepcube-User-Id"
ROLE_HEADER = "X-Deepcube-Role"
EMAIL_HEADER = "X-Deepcube-Email"
FORWARDED = ("Cookie", "X-Session-Token")
"""Request headers that carry a Kratos session; nothing else of the request reaches Kratos."""
_ROLE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_BEARER = re.compile(r"Bearer ([A-Za-z0-9._~+/=-]{8,4096})")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]{1,256}")


@dataclass(frozen=True)
class Decision:
    """What to answer Caddy: a status, headers for the upstream, and a short reason for the log."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()


def allowed_roles(path: str) -> tuple[str, ...] | None:
    """`/roles/admin,scientist` -> ("admin", "scientist"); None if the path names no valid role."""
    path = urlsplit(path).path
    if not path.startswith(ROLE_PATH):
        return None
    names = tuple(unquote(path[len(ROLE_PATH) :]).split(","))
    if not names or not all(_ROLE.fullmatch(name) for name in names):
        return None
    return names


def _header_safe(value: Any) -> str | None:
    """A value fit for an HTTP header (printable ASCII, bounded), else None: no header injection."""
    return value if isinstance(value, str) and _HEADER_VALUE.fullmatch(value) else None


def decide(roles: tuple[str, ...], status: int, session: Any) -> Decision:
    """The answer for a whoami `status` and its parsed body, given the route's `roles`."""
    if status in (401, 403):  # no session, or a session that needs a second factor first
        return Decision(401, "no valid session")
    if status != 200 or not isinstance(session, dict):
        return Decision(502, f"unexpected whoami answer {status}")
    identity = session.get("identity")
    if session.get("active") is not True or not isinstance(identity, dict):
        return Decision(401, "session not active")
    if identity.get("state", "active") != "active":
        return Decision(401, "identity not active")
    metadata = identity.get("metadata_public")
    role = metadata.get("role") if isinstance(metadata, dict) else None
    user = _header_safe(identity.get("id"))
    if user is None:
        return Decision(502, "session without an identity id")
    if not isinstance(role, str) or role not in roles:
        return Decision(403, f"role {role!r} of {user} may not open a route for {','.join(roles)}")
    traits = identity.get("traits")
    email = _header_safe(traits.get("email")) if isinstance(traits, dict) else None
    headers = ((USER_HEADER, user), (ROLE_HEADER, role), (EMAIL_HEADER, email or ""))
    return Decision(200, f"{user} as {role}", headers)


def decide_token(
    roles: tuple[str, ...], status: int, answer: Any, client_roles: Mapping[str, str]
) -> Decision:
    """The answer for a Hydra introspection `status` and body, given the route's `roles`.

    A token of a machine client (its subject is its client id) takes the role the platform gave the
    client; a person's token takes the role its consent put into the access token (`ext.role`).
    """
    if status != 200 or not isinstance(answer, dict):
        return Decision(502, f"unexpected introspection answer {status}")
    if answer.get("active") is not True or answer.get("token_use", "access_token") != "access_token":
        return Decision(401, "token not active")
    client = answer.get("client_id")
    subject = _header_safe(answer.get("sub"))
    if subject is None:
        return Decision(502, "token without a subject")
    if subject == client and isinstance(client, str):
        role = client_roles.get(client)
        who = f"client {client}"
    else:
        ext = answer.get("ext")
        role = ext.get("role") if isinstance(ext, dict) else None
        who = subject
    if not isinstance(role, str) or role not in roles:
        return Decision(403, f"role {role!r} of {who} may not open a route for {','.join(roles)}")
    headers = ((USER_HEADER, subject), (ROLE_HEADER, role), (EMAIL_HEADER, ""))
    return Decision(200, f"{who} as {role}", headers)


def client_roles_from(text: str) -> dict[str, str]:
    """`ci=scientist,loader=scientist` -> {"ci": "scientist", ...}; malformed pairs are ignored."""
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {k.strip(): v.strip() for k, v in pairs if _ROLE.fullmatch(v.strip()) and k.strip()}


def bearer(headers: Any) -> str | None:
    match = _BEARER.fullmatch(headers.get("Authorization", "").strip())
    return match.group(1) if match else None


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Kratos is a neighbour on the overlay network: never go through an HTTP proxy from the environment."""


def whoami(kratos: str, credentials: dict[str, str], timeout: float) -> tuple[int, Any]:
    """Ask Kratos' public API who the credentials belong to: (HTTP status, parsed JSON or None)."""
    request = urllib.request.Request(
        kratos.rstrip("/") + "/sessions/whoami", headers={**credentials, "Accept": "application/json"}
    )
    return _ask_json(request, timeout)


def introspect(hydra_admin: str, token: str, timeout: float) -> tuple[int, Any]:
    """Ask Hydra's admin API whether an access token is active: (HTTP status, parsed JSON or None)."""
    request = urllib.request.Request(
        hydra_admin.rstrip("/") + "/admin/oauth2/introspect",
        data=urlencode({"token": token}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        method="POST",
    )
    return _ask_json(request, timeout)


def _ask_json(request: urllib.request.Request, timeout: float) -> tuple[int, Any]:
    """(HTTP status, parsed JSON or None); status 0 when the service cannot be reached or answers junk."""
    try:
        with _DIRECT.open(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
    except (OSError, ValueError):
        return 0, None


def whoami_answer(status: int, session: Any) -> tuple[int, dict[str, Any]]:
    """What the homepage learns: whether someone is signed in, their e-mail and role; nothing else."""
    if status != 200 or not isinstance(session, dict) or session.get("active") is not True:
        return (401 if status in (401, 403) else 502 if status != 200 else 401), {"signed_in": False}
    identity = session.get("identity") if isinstance(session.get("identity"), dict) else {}
    traits = identity.get("traits") if isinstance(identity.get("traits"), dict) else {}
    metadata = identity.get("metadata_public")
    role = metadata.get("role") if isinstance(metadata, dict) else None
    email = traits.get("email")
    return 200, {
        "signed_in": True,
        "email": email if isinstance(email, str) else None,
        "role": role if isinstance(role, str) and _ROLE.fullmatch(role) else None,
    }


class Handler(BaseHTTPRequestHandler):
    """One forward-auth question per request, answered from the server's Kratos."""

    server: GatekeeperServer

    server_version = "deepcube-gatekeeper"
    sys_version = ""

    def do_GET(self) -> None:
        if self.path == HEALTH_PATH:
            self._answer(Decision(200, "health"))
            return
        credentials = {name: self.headers[name] for name in FORWARDED if self.headers.get(name)}
        if urlsplit(self.path).path in WHOAMI_PATHS:
            self._whoami(credentials)
            return
        roles = allowed_roles(self.path)
        if roles is None:
            self._answer(Decision(403, f"route names no valid role: {self.path[:80]!r}"))
            return
        presented = bearer(self.headers)
        if not credentials and presented and self.server.hydra_admin:
            status, answer = introspect(self.server.hydra_admin, presented, self.server.whoami_timeout)
            self._answer(decide_token(roles, status, answer, self.server.client_roles))
            return
        if not credentials:
            self._answer(Decision(401, "no session cookie or token"))
            return
        status, session = whoami(self.server.kratos, credentials, self.server.whoami_timeout)
        self._answer(decide(roles, status, session))

    def _whoami(self, credentials: dict[str, str]) -> None:
        status, session = (401, None)
        if credentials:
            status, session = whoami(self.server.kratos, credentials, self.server.whoami_timeout)
        code, answer = whoami_answer(status, session)
        body = json.dumps(answer).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_HEAD = do_GET

    def _answer(self, decision: Decision) -> None:
        body = b"" if decision.status == 200 else _REASONS.get(decision.status, b"refused\n")
        self.send_response(decision.status)
        for name, value in decision.headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        if self.path != HEALTH_PATH:
            uri = self.headers.get("X-Forwarded-Uri", "-")[:200]
            sys.stderr.write(f"{decision.status} {uri!r} {decision.reason}\n")

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: `_answer` logs one line per decision, without cookies."""


_REASONS = {
    401: b"Sign in to open this module.\n",
    403: b"Your account's role does not open this module. Ask a platform administrator.\n",
    502: b"The identity service did not answer; try again shortly.\n",
}


class GatekeeperServer(ThreadingHTTPServer):
    """A threading HTTP server that knows where Kratos is; one thread per forward-auth question."""

    daemon_threads = True

    def __init__(
        self,
        listen: str,
        kratos: str,
        whoami_timeout: float = 5.0,
        hydra_admin: str | None = None,
        client_roles: Mapping[str, str] | None = None,
    ) -> None:
        host, _, port = listen.rpartition(":")
        super().__init__((host or "0.0.0.0", int(port)), Handler)
        self.kratos = kratos
        self.whoami_timeout = whoami_timeout
        self.hydra_admin = hydra_admin
        self.client_roles = dict(client_roles or {})


def main() -> None:
    listen = os.environ.get("GATEKEEPER_LISTEN", "0.0.0.0:4180")
    kratos = os.environ.get("KRATOS_PUBLIC_URL", "http://kratos:4433")
    server = GatekeeperServer(
        listen,
        kratos,
        float(os.environ.get("GATEKEEPER_TIMEOUT", "5")),
        hydra_admin=os.environ.get("HYDRA_ADMIN_URL") or None,
        client_roles=client_roles_from(os.environ.get("GATEKEEPER_CLIENT_ROLES", "")),
    )
    sys.stderr.write(f"gatekeeper on {listen}, asking {kratos}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
