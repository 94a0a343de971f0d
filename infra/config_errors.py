"""Errors of the stack config: one line naming the YAML key at fault.

A pydantic `ValidationError` becomes one `ConfigError` message; a misspelt key is reported with the
closest accepted key, and a key that moved with where it lives now.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from infra.stack_files import did_you_mean


class ConfigError(ValueError):
    """A stack config value is missing or invalid; the message names the YAML key."""


def _dotted(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location)


MOVED_KEYS = {
    "cloud.s3_endpoint": "cloud.object_storage.endpoint",
    "cloud.storage_region": "cloud.object_storage.region",
    "cloud.s3_region": "cloud.object_storage.signing_region",
}
"""Keys that moved: a stack file still using the old name is told where the value goes now."""


def _field_names(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at `location` (a dotted path into nested models and lists)."""
    for part in location:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        nested = [t for t in (field.annotation, *_type_args(field.annotation)) if _is_model(t)]
        if not nested:
            return []
        model = nested[0]
    return list(model.model_fields)


def _type_args(annotation: Any) -> list[Any]:
    args = list(typing.get_args(annotation))
    return args + [inner for arg in args for inner in _type_args(arg)]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def describe_error(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line naming the YAML key at fault.

    A misspelt key shows up twice (the unknown key, and the real one as missing): the unknown key is
    reported first, with the closest accepted key as a hint and the missing key beside it.
    """
    errors = exc.errors()
    unknown = [error for error in errors if error["type"] == "extra_forbidden"]
    if not unknown:
        first = errors[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"Invalid configuration: {message} for {_dotted(first['loc'])}"
    *parent, key = unknown[0]["loc"]
    moved = MOVED_KEYS.get(_dotted((*parent, key)))
    if moved is not None:
        return f"Invalid configuration: unknown key {key} (moved to {moved}) for {_dotted(tuple(parent))}"
    missing = [
        str(error["loc"][-1])
        for error in errors
        if error["type"] == "missing" and list(error["loc"][:-1]) == parent
    ]
    close = did_you_mean(str(key), missing) or did_you_mean(str(key), _field_names(model, tuple(parent)))
    hint = f" (did you mean {close}?)" if close else ""
    others = [name for name in missing if name != close]
    also = f"; missing: {', '.join(others)}" if others else ""
    where = _dotted(tuple(parent)) or "the stack config"
    return f"Invalid configuration: unknown key {key}{hint}{also} for {where}"
