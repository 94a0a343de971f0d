"""ORY Kratos configuration and its identity schema.

Accounts are created by administrators, never by visitors: self-service registration is off, and an
administrator creates the identity through the admin API and sends its owner a recovery code (Ory's
"invite users" flow); redeeming it lets the user set a password. Every key below is one of Kratos
v1.2's configuration schema (`embedx/config.schema.json` in ory/kratos).

Secrets (DSN password, cookie and cipher secrets, the SMTP connection URI with its password) are not
in these files: the container's start command reads them from /run/secrets into environment
variables (`DSN`, `SECRETS_COOKIE`, `SECRETS_CIPHER`, `COURIER_SMTP_CONNECTION_URI`), which Kratos
merges over the file before validating it; `courier.smtp.connection_uri` is required, so a Kratos
started without the secret refuses to run instead of mailing nowhere.
"""

from __future__ import annotations

import json

import yaml

SCHEMA_PATH = "/etc/config/kratos/identity.schema.json"


def render_identity_schema() -> str:
    return json.dumps(
        {
            "$id": "https://deepcube.example/identity.schema.json",
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "Person",
            "type": "object",
            "properties": {
                "traits": {
                    "type": "object",
                    "properties": {
                        "email": {
                            "type": "string",
                            "format": "email",
                            "title": "E-Mail",
                            "ory.sh/kratos": {
                                "credentials": {"password": {"identifier": True}},
                                "recovery": {"via": "email"},
                                "verification": {"via": "email"},
                            },
                        },
                        "name": {"type": "string", "title": "Name"},
                    },
                    "required": ["email"],
                    "additionalProperties": False,
                }
            },
        },
        indent=2,
        sort_keys=True,
    )


SMTP_URI_ENV = "COURIER_SMTP_CONNECTION_URI"
"""The environment variable that carries `courier.smtp.connection_uri` (from a Docker secret)."""


HYDRA_ADMIN_URL = "http://hydra:4445"
"""Kratos' `oauth2_provider.url`: with it, Kratos' login flow accepts Hydra's `login_challenge` and
tells Hydra who signed in (Ory's native Kratos-as-login-provider integration, Kratos >= v1.0)."""


def render_kratos(base_url: str, mail_from: str) -> str:
    """`base_url` is https://DOMAIN; Kratos' public API is routed at /kratos, its UI at /auth.

    `mail_from` is the sender of invite and recovery mails; the SMTP server and its credentials come
    from the environment (see the module docstring).
    """
    ui = f"{base_url}/auth"
    return yaml.safe_dump(
        {
            "version": "v1.2.0",
            "serve": {
                "public": {"base_url": f"{base_url}/kratos/", "cors": {"enabled": False}},
                "admin": {"base_url": "http://kratos:4434/"},
            },
            "selfservice": {
                "default_browser_return_url": f"{base_url}/",
                "allowed_return_urls": [f"{base_url}/"],
                # `code`: the recovery (invite) and verification codes; login stays password-only.
                "methods": {"password": {"enabled": True}, "code": {"enabled": True}},
                "flows": {
                    "error": {"ui_url": f"{ui}/error"},
                    "settings": {"ui_url": f"{ui}/settings", "privileged_session_max_age": "15m"},
                    "recovery": {"enabled": True, "use": "code", "ui_url": f"{ui}/recovery"},
                    "verification": {"enabled": True, "use": "code", "ui_url": f"{ui}/verification"},
                    "logout": {"after": {"default_browser_return_url": f"{ui}/login"}},
                    "login": {"ui_url": f"{ui}/login", "lifespan": "10m"},
                    # No self-service sign-up: administrators create accounts (see the module docstring).
                    "registration": {"enabled": False, "ui_url": f"{ui}/registration"},
                },
            },
            "session": {"lifespan": "12h", "cookie": {"same_site": "Lax"}},
            "log": {"level": "info", "format": "json"},
            "hashers": {"algorithm": "bcrypt", "bcrypt": {"cost": 12}},
            "identity": {
                "default_schema_id": "default",
                "schemas": [{"id": "default", "url": f"file://{SCHEMA_PATH}"}],
            },
            "courier": {"smtp": {"from_address": mail_from}},
            "oauth2_provider": {"url": HYDRA_ADMIN_URL},
        },
        sort_keys=False,
    )
