"""Parsing the platform services' part of the stack config (`deepcube-platform:services`).

The typed models are `components.services_config` (the components that read them import nothing
from `infra`); here the plain YAML value becomes a `ServicesConfig`, and a bad value one error that
names the YAML key, like `infra.config` errors.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from components.services_config import ServicesConfig


class ServicesConfigError(ValueError):
    """Invalid `services` config; the message names the YAML key, like infra.config errors."""


def parse(raw: dict[str, Any]) -> ServicesConfig:
    """Validate the plain YAML value; errors read 'Invalid configuration: <msg> for services.<key>'."""
    try:
        return ServicesConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(["services", *(str(p) for p in first["loc"])])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ServicesConfigError(f"Invalid configuration: {message} for {key}") from None
