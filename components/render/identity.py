"""ORY Kratos configuration and its identity schema.

Secrets (DSN password, cookie and cipher secrets) are not in these files: the container's start
command reads them from /run/secrets into environment variables, which Kratos prefers over the file.
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


def render_kratos(base_url: str, smtp_uri: str) -> str:
    """`base_url` is https://DOMAIN; Kratos' public API is routed at /kratos, its UI at /auth."""
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
                "methods": {"password": {"enabled": True}},
                "flows": {
                    "error": {"ui_url": f"{ui}/error"},
                    "settings": {"ui_url": f"{ui}/settings", "privileged_session_max_age": "15m"},
                    "recovery": {"enabled": True, "ui_url": f"{ui}/recovery"},
                    "verification": {"enabled": True, "ui_url": f"{ui}/verification"},
                    "logout": {"after": {"default_browser_return_url": f"{ui}/login"}},
                    "login": {"ui_url": f"{ui}/login", "lifespan": "10m"},
                    "registration": {
                        "ui_url": f"{ui}/registration",
                        "lifespan": "10m",
                        "after": {"password": {"hooks": [{"hook": "session"}]}},
                    },
                },
            },
            "session": {"lifespan": "12h", "cookie": {"same_site": "Lax"}},
            "log": {"level": "info", "format": "json"},
            "hashers": {"algorithm": "bcrypt", "bcrypt": {"cost": 12}},
            "identity": {
                "default_schema_id": "default",
                "schemas": [{"id": "default", "url": f"file://{SCHEMA_PATH}"}],
            },
            "courier": {"smtp": {"connection_uri": smtp_uri}},
        },
        sort_keys=False,
    )
