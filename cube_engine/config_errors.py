"""pydantic's validation errors as one line a user can act on.

pydantic reports internals: union members in the location (`grid.resolution.float`), class names
(`valid dictionary or instance of ChunkConfig`), and a misspelled key as two unrelated errors of
which the first is "missing". Here:

- the location is the YAML key path (union-member tags are dropped);
- a value of the wrong type says what is expected, in YAML words, and what was found;
- a misspelled key comes first, with a did-you-mean, together with the required key it leaves
  missing;
- other problems are counted, so fixing one does not hide that more follow.
"""

from __future__ import annotations

import difflib
import re
import typing
from typing import Any

from pydantic import BaseModel

from .constants import CHUNK_PRESETS
from .errors import ConfigError

_TYPE_WORDS = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "tuple_type": "a list",
    "list_type": "a list",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_HINTS = {
    ("chunks",): "expected a preset ({}) or a mapping such as {{time: 8, y: 256, x: 256}}".format(
        " or ".join(repr(p) for p in CHUNK_PRESETS)
    ),
}


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (directly, in a list, or in an optional/union)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _split(loc: tuple[Any, ...], root: type[BaseModel]) -> tuple[tuple[Any, ...], str | None]:
    """(YAML key path, union-member tag or None): the path ends where pydantic's loc leaves the
    model's fields (a union member such as 'float' or 'tuple[float, float]')."""
    model: type[BaseModel] | None = root
    path: list[Any] = []
    for part in loc:
        if isinstance(part, int):
            path.append(part)
            continue
        fields = model.model_fields if model is not None else {}
        if part not in fields:
            if model is not None and part == model.__name__:
                continue  # the union member that is a model: its fields follow
            return tuple(path), str(part)
        path.append(part)
        model = _inner_model(fields[part].annotation)
    return tuple(path), None


def _model_at(path: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in path:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = _inner_model(model.model_fields[part].annotation)
    return model


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def _member_words(tag: str | None, error: dict[str, Any]) -> str:
    if tag and tag.startswith("tuple["):
        n = len(tag[len("tuple[") : -1].split(","))
        return f"a list of {n} numbers" if "float" in tag or "int" in tag else f"a list of {n} values"
    if error["type"] == "literal_error":
        return "one of " + str((error.get("ctx") or {}).get("expected", "the allowed values"))
    if tag and re.fullmatch(r"[A-Z]\w*", tag):
        return "a mapping"
    return _TYPE_WORDS.get(error["type"], "")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _group_message(path: tuple[Any, ...], group: list[tuple[str | None, dict[str, Any]]]) -> str:
    first = group[0][1]
    if first["type"] == "missing":
        return "missing required key"
    if path in _HINTS and any(e["type"] in _TYPE_WORDS or e["type"] == "literal_error" for _, e in group):
        return f"{_HINTS[path]}, found {_show(first.get('input'))}"
    words = [_member_words(tag, error) for tag, error in group]
    if all(words):
        expected = " or ".join(dict.fromkeys(words))
        top = next((e for tag, e in group if tag is None or e["loc"][-1] == tag), first)
        return f"expected {expected}, found {_show(top.get('input'))}"
    message = first["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message[:1].lower() + message[1:]


def _unknown_key(path: tuple[Any, ...], root: type[BaseModel]) -> tuple[str, str | None]:
    key = str(path[-1])
    model = _model_at(path[:-1], root)
    close = difflib.get_close_matches(key, list(model.model_fields), n=1) if model is not None else []
    suggestion = close[0] if close else None
    hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
    return f"unknown key {key!r}{hint}", suggestion


def format_errors(errors: list[dict[str, Any]], root: type[BaseModel]) -> ConfigError:
    """One ConfigError for all of pydantic's `errors` (validating `root`)."""
    groups: dict[tuple[Any, ...], list[tuple[str | None, dict[str, Any]]]] = {}
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":  # the last part is the unknown key itself
            path, tag = (*_split(loc[:-1], root)[0], loc[-1]), None
        else:
            path, tag = _split(loc, root)
        groups.setdefault(path, []).append((tag, error))
    # A union member that failed deeper (chunks.preset) explains the failure better than the
    # members that did not fit at all (chunks: not a preset name).
    for path in list(groups):
        if all(tag for tag, _ in groups[path]) and any(
            other[: len(path)] == path and len(other) > len(path) for other in groups
        ):
            del groups[path]
    order = list(groups)
    primary = next((p for p in order if groups[p][0][1]["type"] == "extra_forbidden"), order[0])
    parts: list[str] = []
    used = {primary}
    if groups[primary][0][1]["type"] == "extra_forbidden":
        message, suggestion = _unknown_key(primary, root)
        parts.append(f"{message} for {_dotted(primary)}")
        parent = primary[:-1]
        # The key the typo was meant to be is usually reported missing: say so in the same line.
        for path in order:
            missing = path[:-1] == parent and groups[path][0][1]["type"] == "missing"
            if missing and path not in used and (suggestion is None or path[-1] == suggestion):
                parts.append(f"missing required key for {_dotted(path)}")
                used.add(path)
    else:
        parts.append(f"{_group_message(primary, groups[primary])} for {_dotted(primary)}")
    more = len(order) - len(used)
    if more:
        parts.append(f"and {more} more problem{'s' if more > 1 else ''}")
    text = "; ".join(parts)
    return ConfigError(text[:1].lower() + text[1:], None)
