"""ORY Hydra v2.2: its configuration file and the script that registers the platform's OAuth2 clients.

Hydra is the platform's OpenID Connect provider; Kratos signs people in for it (Kratos'
`oauth2_provider.url` points at Hydra's admin API, and Hydra's `urls.login` at the Kratos login
page), and the platform's consent service (docker/sso/consent.py) answers Hydra's consent requests
with the person's role in the ID token. Every key below is one of Hydra's configuration schema
(`spec/config.json` in ory/hydra); secrets (`dsn`, `secrets.system`) come from the environment,
which the start command fills from /run/secrets.

Registration uses the `hydra` CLI of the same image against the admin API: a client that exists is
replaced with `hydra update client` (a PUT: the declared state wins), a new one is created with
`hydra import client` (v2.2's `create client` has no `--id`, the admin API behind `import` does).
Secrets are read from their Docker secret files at run time; the script itself holds none.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

import yaml

from components.oidc import ROLE_CLAIM, ROLE_SCOPE, OidcClient, issuer

ADMIN_URL = "http://hydra:4445"
SECRET_PLACEHOLDER = "${CLIENT_SECRET}"
CONFIG_PATH = "/etc/config/hydra/hydra.yml"


def render_hydra(base_url: str, consent_url: str) -> str:
    """`base_url` is https://DOMAIN; Hydra's public API is routed at /oauth2, Kratos' UI at /auth."""
    ui = f"{base_url}/auth"
    return yaml.safe_dump(
        {
            "serve": {
                "public": {"cors": {"enabled": False}},
                "admin": {"cors": {"enabled": False}},
                "cookies": {"same_site_mode": "Lax"},
            },
            "urls": {
                "self": {"issuer": issuer(base_url), "public": issuer(base_url)},
                "login": f"{ui}/login",
                "consent": consent_url,
                "logout": f"{ui}/logout",
                "post_logout_redirect": f"{base_url}/",
            },
            # Access tokens stay opaque (the default): modules and the gatekeeper introspect them.
            "strategies": {"scope": "exact"},
            "ttl": {"access_token": "1h", "id_token": "1h", "refresh_token": "720h"},
            "oidc": {"subject_identifiers": {"supported_types": ["public"]}},
            "webfinger": {
                "oidc_discovery": {
                    "supported_claims": ["email", "email_verified", "name", ROLE_CLAIM],
                    "supported_scope": ["email", "profile", ROLE_SCOPE],
                }
            },
            "log": {"level": "info", "format": "json", "leak_sensitive_values": False},
        },
        sort_keys=False,
    )


def _client_file(client: OidcClient, base_url: str) -> str:
    """The JSON array `hydra import client` reads; `SECRET_PLACEHOLDER` is replaced at run time."""
    return json.dumps(
        [{**client.registration(base_url), "client_secret": SECRET_PLACEHOLDER}], sort_keys=True
    )


def _update_flags(client: OidcClient, base_url: str) -> list[str]:
    registration = client.registration(base_url)
    flags = [
        "--name",
        client.name,
        "--grant-type",
        ",".join(client.grant_types),
        "--scope",
        ",".join(client.scopes),
        "--token-endpoint-auth-method",
        client.token_endpoint_auth_method,
        "--metadata",
        json.dumps(registration["metadata"], sort_keys=True),
        "--skip-consent",
    ]
    if not client.machine:
        flags += ["--response-type", "code"]
    for uri in registration["redirect_uris"]:
        flags += ["--redirect-uri", uri]
    for uri in registration["post_logout_redirect_uris"]:
        flags += ["--post-logout-callback", uri]
    return flags


def render_registration_script(clients: Sequence[OidcClient], base_url: str) -> str:
    """`sh` that waits for Hydra's admin API, then creates or replaces every client (idempotent).

    Client secrets are generated without special characters (`RandomPassword(special=False)`), so
    `sed` can put them into the client file without quoting; the file lives in a private temp
    directory and is removed at once.
    """
    q = shlex.quote
    lines = [
        "set -eu",
        f"E={ADMIN_URL}",
        'until wget -q -O /dev/null "$E/health/ready"; do echo waiting for hydra; sleep 2; done',
        "work=$(mktemp -d); trap 'rm -rf \"$work\"' EXIT",
    ]
    for client in clients:
        cid = q(client.client_id)
        secret = f'"$(cat {q(client.secret_file)})"'
        update = " ".join(q(flag) for flag in _update_flags(client, base_url))
        lines += [
            f"# {client.name}",
            f'if hydra get client {cid} --endpoint "$E" >/dev/null 2>&1; then',
            f'  hydra update client {cid} --endpoint "$E" --secret {secret} {update} >/dev/null',
            f"  echo updated {cid}",
            "else",
            f"  printf '%s' {q(_client_file(client, base_url))} > \"$work/client.json\"",
            f'  sed -i "s/[$][{{]CLIENT_SECRET[}}]/$(cat {q(client.secret_file)})/" "$work/client.json"',
            '  hydra import client --endpoint "$E" "$work/client.json" >/dev/null',
            '  rm -f "$work/client.json"',
            f"  echo created {cid}",
            "fi",
        ]
    return "\n".join(lines) + "\n"
