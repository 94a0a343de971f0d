"""`secrets-only-as-secrets`: credential-like inputs reach Pulumi as secrets, never in clear."""

from __future__ import annotations

import re
from typing import Any

from infra.manifest import UNKNOWN, ResourceRecord, is_secret
from infra.policy_model import PolicyContext, Violation
from infra.rules.records import walk

# Input keys whose values are credentials, matched on the snake_case form of the key's end.
_SECRET_KEY = re.compile(
    r"(^|_)(password|passwd|pass|secret|secret_key|token|private_key|private_key_pem|"
    r"private_key_openssh|api_key|access_key)$"
)
_NOT_SECRET_KEY = re.compile(r"(^|_)(token_url|secret_name|secret_id|pass_through)$")


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower().replace("-", "_")


def _leaks_secret(key: str, value: Any) -> bool:
    if isinstance(value, str) and "-----BEGIN" in value and "PRIVATE KEY" in value:
        return True
    snake = _snake(key)
    if not _SECRET_KEY.search(snake) or _NOT_SECRET_KEY.search(snake):
        return False
    return isinstance(value, str) and value not in ("", UNKNOWN) and not is_secret(value)


def secrets_only_as_secrets(record: ResourceRecord, ctx: PolicyContext) -> list[Violation]:
    """Credential-like inputs (password, token, private key...) must reach Pulumi as secrets.

    A heuristic on key names (including environment variable names such as POSTGRES_PASSWORD)
    and on PEM private keys anywhere: a plain value there would be stored in clear in the state.
    """
    return [
        Violation("secrets-only-as-secrets", record.urn, f"{path} holds a plain value; pass it as a secret")
        for path, key, value in walk(record.inputs)
        if _leaks_secret(key, value)
    ]
