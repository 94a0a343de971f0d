"""Parsing the platform services' part of the stack config (`deepcube-platform:services`).

The typed models are `components.services_config` (the components that read them import nothing
from `infra`); here the plain YAML value becomes a `ServicesConfig`, and a bad value one error that
names the YAML key in the platform's one form (`deepcube.config_errors`), like `infra.config` errors.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from components.services_config import ServicesConfig
from deepcube.config_errors import describe_validation_error, dotted


class ServicesConfigError(ValueError):
    """Invalid `services` config; the message names the YAML key, like infra.config errors."""


def parse(raw: dict[str, Any]) -> ServicesConfig:
    """Validate the plain YAML value; errors read 'Invalid configuration: <msg> for services.<key>'."""
    try:
        return ServicesConfig.model_validate(raw)
    except ValidationError as exc:
        line = describe_validation_error(
            exc, ServicesConfig, location=lambda path: dotted(("services", *path))
        )
        raise ServicesConfigError(line) from None
