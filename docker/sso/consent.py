"""The platform's consent endpoint for ORY Hydra: puts the person's role into their tokens.

Hydra asks a consent app, after Kratos has signed the person in, what a client may receive. Every
client of this platform is its own module (registered with `skip_consent`), so there is nothing to
ask the person; what matters is what the tokens say. This program answers `GET /consent/?
consent_challenge=...` by
- reading the consent request from Hydra's admin API (subject = the Kratos identity id, the scopes
  the client asked for, whether the client skips consent);
- reading the identity from Kratos' admin API: a deactivated account is refused, and the role is
  `metadata_public.role`, which only Kratos' admin API can write;
- accepting with the requested scopes and a session whose ID token (and so userinfo) carries
  `email`/`email_verified` (scope `email`), `name` (scope `profile`) and `role` (scope `role`), and
  whose access token carries `role` (Hydra's introspection returns it under `ext`);
- redirecting the browser back to Hydra.
Consent is not remembered: every sign-in of a module reads the role afresh. A client that does not
skip consent, or any error, is refused (fail closed): the platform declares no such client.

Standard library only, so it runs in the stock Python image like the gatekeeper. Settings:
`HYDRA_ADMIN_URL` (default `http://hydra:4445`), `KRATOS_ADMIN_URL` (default `http://kratos:4434`),
`CONSENT_LISTEN` (default `0.0.0.0:4190`).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

CONSENT_PATH = "/consent/"
HEALTH_PATH = "/health"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Hydra and Kratos are neighbours on the identity network: never through a proxy."""


class ConsentError(Exception):
    """Why a consent request is refused; the message goes to the log, not to the browser."""


def call(method: str, url: str, body: Any = None, timeout: float = 5.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json"} | ({"Content-Type": "application/json"} if data else {})
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _DIRECT.open(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise ConsentError(f"{method} {url.split('?')[0]} answered {error.code}") from None
    except (OSError, ValueError) as error:
        raise ConsentError(f"{method} {url.split('?')[0]} failed: {error}") from None


def claims(identity: dict[str, Any], scopes: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ID token claims, access token claims) for an identity and the granted scopes."""
    if identity.get("state", "active") != "active":
        raise ConsentError(f"identity {identity.get('id')} is not active")
    traits = identity.get("traits") if isinstance(identity.get("traits"), dict) else {}
    metadata = identity.get("metadata_public")
    role = metadata.get("role") if isinstance(metadata, dict) else None
    id_claims: dict[str, Any] = {}
    if "email" in scopes and isinstance(traits.get("email"), str):
        addresses = identity.get("verifiable_addresses") or []
        verified = any(a.get("verified") is True for a in addresses if isinstance(a, dict))
        id_claims |= {"email": traits["email"], "email_verified": verified}
    if "profile" in scopes and isinstance(traits.get("name"), str):
        id_claims["name"] = traits["name"]
    access_claims: dict[str, Any] = {}
    if isinstance(role, str):
        access_claims["role"] = role
        if "role" in scopes:
            id_claims["role"] = role
    return id_claims, access_claims


def accept(hydra: str, kratos: str, challenge: str) -> str:
    """Accept one consent request; returns where Hydra wants the browser next."""
    q = quote(challenge, safe="")
    request = call("GET", f"{hydra}/admin/oauth2/auth/requests/consent?consent_challenge={q}")
    client = request.get("client") or {}
    if not (request.get("skip") or client.get("skip_consent") is True):
        raise ConsentError(f"client {client.get('client_id')!r} does not skip consent")
    subject = request.get("subject")
    if not isinstance(subject, str) or not subject:
        raise ConsentError("consent request without a subject")
    identity = call("GET", f"{kratos}/admin/identities/{quote(subject, safe='')}")
    scopes = [s for s in request.get("requested_scope") or [] if isinstance(s, str)]
    id_claims, access_claims = claims(identity, scopes)
    answer = call(
        "PUT",
        f"{hydra}/admin/oauth2/auth/requests/consent/accept?consent_challenge={q}",
        {
            "grant_scope": scopes,
            "grant_access_token_audience": request.get("requested_access_token_audience") or [],
            "remember": False,
            "session": {"id_token": id_claims, "access_token": access_claims},
        },
    )
    return str(answer["redirect_to"])


def reject(hydra: str, challenge: str, reason: str) -> str | None:
    """Tell Hydra the request is refused; the client then receives `access_denied`."""
    q = quote(challenge, safe="")
    try:
        answer = call(
            "PUT",
            f"{hydra}/admin/oauth2/auth/requests/consent/reject?consent_challenge={q}",
            {"error": "access_denied", "error_description": reason, "status_code": 403},
        )
        return str(answer["redirect_to"])
    except (ConsentError, KeyError, TypeError):
        return None


class Handler(BaseHTTPRequestHandler):
    server: ConsentServer
    server_version = "deepcube-consent"
    sys_version = ""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == HEALTH_PATH:
            self._send(200, b"ok\n")
            return
        challenge = (parse_qs(url.query).get("consent_challenge") or [""])[0]
        if url.path != CONSENT_PATH or not challenge:
            self._send(400, b"Missing consent challenge.\n")
            return
        try:
            self._redirect(accept(self.server.hydra, self.server.kratos, challenge))
        except (ConsentError, KeyError, TypeError, AttributeError) as error:
            sys.stderr.write(f"refused: {error}\n")
            target = reject(self.server.hydra, challenge, "the platform refused this sign-in")
            if target:
                self._redirect(target)
            else:
                self._send(502, b"The identity service did not answer; try again shortly.\n")

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: challenges are credentials of a kind; refusals are logged with their reason."""


class ConsentServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, listen: str, hydra: str, kratos: str) -> None:
        host, _, port = listen.rpartition(":")
        super().__init__((host or "0.0.0.0", int(port)), Handler)
        self.hydra = hydra.rstrip("/")
        self.kratos = kratos.rstrip("/")


def main() -> None:
    listen = os.environ.get("CONSENT_LISTEN", "0.0.0.0:4190")
    server = ConsentServer(
        listen,
        os.environ.get("HYDRA_ADMIN_URL", "http://hydra:4445"),
        os.environ.get("KRATOS_ADMIN_URL", "http://kratos:4434"),
    )
    sys.stderr.write(f"consent on {listen}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
