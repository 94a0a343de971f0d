"""The base of every stack config model: unknown keys and loose types are errors.

Shared by the section models (`infra/*_config.py`) so each section is validated by the same rules;
the secret stand-ins of an offline plan are excused through `infra.stack_files`.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from infra.stack_files import accept_secret_stand_in


class StrictModel(BaseModel):
    """Unknown keys are errors: a misspelt key must not be silently ignored.

    Types are strict too: `count: true` is not 1 and `count: "3"` is not 3, so a slip in the YAML
    fails naming its key instead of being coerced. (The program reads each section as JSON, so
    numbers and booleans arrive typed.)
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @field_validator("*", mode="wrap")
    @classmethod
    def _secret_stand_in(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        return accept_secret_stand_in(value, handler, info)
