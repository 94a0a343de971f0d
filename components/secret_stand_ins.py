"""The base of every config model (`StrictModel`), the rule its address lists share
(`narrow_cidrs`), and the offline stand-ins of secret strings it excuses.

The real value of a `--secret` stack key (e.g. an installer URL with a token) is only decrypted by
the Pulumi CLI; offline (`python -m infra.plan`, the tests), the program sees a placeholder
(`infra.stack_files`) that cannot match a pattern such as `^https://`. The config models, the
services' (`components.services_config`) and the stack's (`infra.config`), excuse those
placeholders, and only those, from string rules with `accept_secret_stand_in`. It lives with the
models that components read, so that components need nothing from `infra`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

SECRET_STAND_INS = "secret_stand_ins"
"""Validation-context key: the offline stand-ins of `--secret` values (see `accept_secret_stand_in`)."""

_STAND_IN_ERRORS = frozenset({"string_pattern_mismatch", "string_too_short", "string_too_long"})


def accept_secret_stand_in(value: Any, handler: Callable[[Any], Any], info: ValidationInfo) -> Any:
    """A pydantic wrap validator: let the offline stand-in of a secret string pass its string rules.

    Only placeholders listed in the validation context (taken from the keys Pulumi marks secret)
    are excused, and only from string pattern/length rules: a plain value, or a placeholder where a
    number is expected, is validated as before.
    """
    stand_ins = (info.context or {}).get(SECRET_STAND_INS, ())
    if not (isinstance(value, str) and value in stand_ins):
        return handler(value)
    try:
        return handler(value)
    except ValidationError as exc:
        if all(error["type"] in _STAND_IN_ERRORS for error in exc.errors()):
            return value
        raise


class StrictModel(BaseModel):
    """Unknown keys are errors: a misspelt key must not be silently ignored.

    Types are strict too: `count: true` is not 1, `count: "3"` is not 3 and `enabled: "no"` is not
    False, so a slip in the YAML fails naming its key instead of being coerced. (The program reads
    each section as JSON, so numbers and booleans arrive typed.) Offline stand-ins of `--secret`
    strings pass their string patterns (`accept_secret_stand_in`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @field_validator("*", mode="wrap")
    @classmethod
    def _secret_stand_in(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        return accept_secret_stand_in(value, handler, info)


def narrow_cidrs(cidrs: list[str], opens: str) -> list[str]:
    """`cidrs` if each is a CIDR and none is the whole internet (prefix /0), which would open
    `opens` (e.g. "SSH", "PostGIS") to everyone; for the config models' field validators."""
    for cidr in cidrs:
        try:
            net = ipaddress.ip_network(cidr)
        except ValueError:
            raise ValueError(f"{cidr!r} is not a CIDR") from None
        if net.prefixlen == 0:
            raise ValueError(f"{cidr} would open {opens} to the whole internet")
    return cidrs
