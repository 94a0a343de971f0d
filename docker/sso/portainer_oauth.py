"""One-shot job: turn on Portainer CE's OAuth sign-in with the platform's OpenID Connect provider.

Portainer CE keeps its authentication settings in its own database and takes them only through its
REST API (`PUT /api/settings`, as an administrator), not from flags or the environment. This
program waits for Portainer, signs in as the built-in `admin` (whose password the platform set with
`--admin-password-file`), and writes `AuthenticationMethod: 3` (OAuth) with the settings from
`PORTAINER_OAUTH_SETTINGS` (a JSON file without secrets) plus the client secret read from
`PORTAINER_CLIENT_SECRET_FILE`. Running it again writes the same settings: it is idempotent.

Standard library only (stock Python image). Settings: `PORTAINER_URL` (default
`http://portainer:9000`), `PORTAINER_ADMIN_PASSWORD_FILE`, `PORTAINER_CLIENT_SECRET_FILE`,
`PORTAINER_OAUTH_SETTINGS`, `PORTAINER_WAIT_SECONDS` (default 600).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

OAUTH = 3
"""Portainer's `AuthenticationMethod` for OAuth (1: internal, 2: LDAP)."""
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(method: str, url: str, body: Any = None, jwt: str | None = None) -> Any:
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if jwt:
        headers["Authorization"] = f"Bearer {jwt}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with _DIRECT.open(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def wait_for(base: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            call("GET", f"{base}/api/system/status")
            return
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                raise SystemExit(f"portainer did not answer at {base} within {seconds:.0f}s") from None
            time.sleep(2)


def configure(base: str, admin_password: str, client_secret: str, oauth: dict[str, Any]) -> dict[str, Any]:
    """Sign in as admin and switch authentication to OAuth; returns the payload sent (secret masked)."""
    jwt = call("POST", f"{base}/api/auth", {"Username": "admin", "Password": admin_password})["jwt"]
    payload = {"AuthenticationMethod": OAUTH, "OAuthSettings": {**oauth, "ClientSecret": client_secret}}
    call("PUT", f"{base}/api/settings", payload, jwt)
    return {**payload, "OAuthSettings": {**payload["OAuthSettings"], "ClientSecret": "***"}}


def main() -> None:
    base = os.environ.get("PORTAINER_URL", "http://portainer:9000").rstrip("/")
    wait_for(base, float(os.environ.get("PORTAINER_WAIT_SECONDS", "600")))
    admin_key = Path(os.environ["PORTAINER_ADMIN_PASSWORD_FILE"]).read_text().strip()
    client_key = Path(os.environ["PORTAINER_CLIENT_SECRET_FILE"]).read_text().strip()
    oauth = json.loads(Path(os.environ["PORTAINER_OAUTH_SETTINGS"]).read_text())
    try:
        sent = configure(base, admin_key, client_key, oauth)
    except urllib.error.HTTPError as error:
        raise SystemExit(f"portainer refused: {error.code} {error.reason}") from None
    sys.stderr.write(f"portainer OAuth set: {json.dumps(sent, sort_keys=True)}\n")


if __name__ == "__main__":
    main()
