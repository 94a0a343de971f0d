"""The parts of ORY's configuration schemas that the platform's Kratos and Hydra files use.

Written by hand from the upstream JSON schemas, keeping their structure, types, enums, patterns and
`additionalProperties: false`, for every object the platform renders:
- Kratos v1.2: ory/kratos `embedx/config.schema.json` (objects `serve`, `selfservice`, `session`,
  `log`, `hashers`, `identity`, `courier.smtp`, `oauth2_provider`);
- Hydra v2.2: ory/hydra `spec/config.json` (objects `serve`, `urls`, `strategies`, `ttl`, `oidc`,
  `webfinger`, `log`); only keys present in both a v1 and a post-v2.2 version of that file are kept,
  so each existed in v2.2.0.
A key the upstream schema does not know fails validation here, as it would fail Kratos' or Hydra's
own validation at start.
"""

from __future__ import annotations

from typing import Any

DURATION = {"type": "string", "pattern": "^([0-9]+(ns|us|ms|s|m|h))+$"}
HYDRA_DURATION = {"type": "string", "pattern": "^[0-9]+(ns|us|ms|s|m|h)$"}
URI = {"type": "string", "format": "uri"}
SAME_SITE = {"type": "string", "enum": ["Strict", "Lax", "None"]}
CORS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "enabled": {"type": "boolean"},
        "allowed_origins": {"type": "array", "items": {"type": "string"}},
    },
}


def _closed(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        **({"required": list(required)} if required else {}),
    }


_FLOW_UI = _closed({"ui_url": URI})

KRATOS_V1_2 = _closed(
    {
        "version": {"type": "string", "pattern": r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"},
        "dsn": {"type": "string"},
        "serve": _closed(
            {
                "public": _closed({"base_url": URI, "cors": CORS, "host": {"type": "string"}}),
                "admin": _closed({"base_url": URI, "host": {"type": "string"}}),
            }
        ),
        "selfservice": _closed(
            {
                "default_browser_return_url": URI,
                "allowed_return_urls": {"type": "array", "items": URI},
                "methods": _closed(
                    {
                        "password": _closed({"enabled": {"type": "boolean"}}),
                        "code": _closed({"enabled": {"type": "boolean"}}),
                    }
                ),
                "flows": _closed(
                    {
                        "error": _FLOW_UI,
                        "settings": _closed({"ui_url": URI, "privileged_session_max_age": DURATION}),
                        "recovery": _closed(
                            {
                                "enabled": {"type": "boolean"},
                                "use": {"type": "string", "enum": ["link", "code"]},
                                "ui_url": URI,
                            }
                        ),
                        "verification": _closed(
                            {
                                "enabled": {"type": "boolean"},
                                "use": {"type": "string", "enum": ["link", "code"]},
                                "ui_url": URI,
                            }
                        ),
                        "logout": _closed({"after": _closed({"default_browser_return_url": URI})}),
                        "login": _closed({"ui_url": URI, "lifespan": DURATION}),
                        "registration": _closed({"enabled": {"type": "boolean"}, "ui_url": URI}),
                    }
                ),
            }
        ),
        "session": _closed({"lifespan": DURATION, "cookie": _closed({"same_site": SAME_SITE})}),
        "log": _closed(
            {
                "level": {
                    "type": "string",
                    "enum": ["trace", "debug", "info", "warning", "error", "fatal", "panic"],
                },
                "format": {"type": "string", "enum": ["json", "text"]},
            }
        ),
        "hashers": _closed(
            {
                "algorithm": {"type": "string", "enum": ["argon2", "bcrypt"]},
                "bcrypt": _closed({"cost": {"type": "integer", "minimum": 4, "maximum": 31}}, ("cost",)),
            }
        ),
        "identity": _closed(
            {
                "default_schema_id": {"type": "string"},
                "schemas": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {"id": {"type": "string"}, "url": URI},
                        "required": ["id", "url"],
                    },
                },
            },
            ("schemas",),
        ),
        "courier": _closed(
            {
                "smtp": _closed(
                    {
                        "connection_uri": {"type": "string", "pattern": r"^smtps?:\/\/.*"},
                        "from_address": {"type": "string", "format": "email"},
                    }
                )
            }
        ),
        "oauth2_provider": _closed(
            {
                "url": URI,
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "override_return_to": {"type": "boolean"},
            }
        ),
    },
    ("identity", "selfservice"),
)
"""Kratos requires `dsn` too; the platform gives it from the environment (DSN), so it is not here."""

HYDRA_V2_2 = _closed(
    {
        "serve": _closed(
            {
                "public": _closed({"cors": CORS, "port": {"type": "integer"}, "host": {"type": "string"}}),
                "admin": _closed({"cors": CORS, "port": {"type": "integer"}, "host": {"type": "string"}}),
                "cookies": _closed({"same_site_mode": SAME_SITE}),
            }
        ),
        "urls": _closed(
            {
                "self": _closed({"issuer": URI, "public": URI, "admin": URI}),
                "login": {"type": "string", "format": "uri-reference"},
                "registration": {"type": "string", "format": "uri-reference"},
                "consent": {"type": "string", "format": "uri-reference"},
                "logout": {"type": "string", "format": "uri-reference"},
                "post_logout_redirect": {"type": "string", "format": "uri-reference"},
            }
        ),
        "strategies": _closed(
            {
                "scope": {"type": "string", "enum": ["exact", "wildcard"]},
                "access_token": {"type": "string", "enum": ["opaque", "jwt"]},
            }
        ),
        "ttl": _closed(
            {
                "login_consent_request": HYDRA_DURATION,
                "access_token": HYDRA_DURATION,
                "refresh_token": HYDRA_DURATION,
                "id_token": HYDRA_DURATION,
                "auth_code": HYDRA_DURATION,
            }
        ),
        "oidc": _closed(
            {
                "subject_identifiers": _closed(
                    {
                        "supported_types": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["public", "pairwise"]},
                        }
                    }
                )
            }
        ),
        "webfinger": _closed(
            {
                "oidc_discovery": _closed(
                    {
                        "supported_claims": {"type": "array", "items": {"type": "string"}},
                        "supported_scope": {"type": "array", "items": {"type": "string"}},
                    }
                )
            }
        ),
        "log": _closed(
            {
                "level": {
                    "type": "string",
                    "enum": ["panic", "fatal", "error", "warn", "info", "debug", "trace"],
                },
                "leak_sensitive_values": {"type": "boolean"},
                "format": {"type": "string", "enum": ["json", "json_pretty", "text"]},
            }
        ),
    }
)

IDENTITY_SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"
"""Kratos identity schemas are JSON Schema draft-07 documents with `ory.sh/kratos` extensions."""
KRATOS_TRAIT_EXTENSION = _closed(
    {
        "credentials": _closed({"password": _closed({"identifier": {"type": "boolean"}})}),
        "recovery": _closed({"via": {"type": "string", "enum": ["email", "sms"]}}),
        "verification": _closed({"via": {"type": "string", "enum": ["email", "sms"]}}),
    }
)
"""The `ory.sh/kratos` extension of a trait (ory/kratos `schema/.../extension` vocabulary)."""
