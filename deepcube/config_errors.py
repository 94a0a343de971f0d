"""pydantic's validation errors as the one configuration line: `Invalid configuration: <message> for
<dotted.yaml.path>`.

pydantic reports its internals: union members in the location (`grid.resolution.float`), class
names (`valid dictionary or instance of ChunkConfig`), and a misspelt key as two unrelated errors
of which the first may be "missing". A person editing a YAML file needs the key to fix and what to
write there, so here:

- the location is the YAML key path (union-member tags are dropped);
- a value of the wrong type says what is expected, in YAML words, and what was found;
- an unknown key comes first, with the closest accepted key (did you mean) or where a key that
  moved lives now, together with the required key the typo leaves missing;
- the other problems are counted, so fixing one does not hide that more follow.

The cube engine and the stack config both validate YAML with pydantic, so both say it this way;
each raises its own exception class with the line.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

PREFIX = "Invalid configuration: "

Path = tuple[Any, ...]
Group = list[tuple[str | None, dict[str, Any]]]  # (union-member tag or None, pydantic error)

_TYPE_WORDS = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "tuple_type": "a list",
    "list_type": "a list",
    "set_type": "a list",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_CHOICES = ("literal_error", "enum")
_UNKNOWN = "extra_forbidden"


def invalid(problem: str, path: str | None = None) -> str:
    """The one form: `Invalid configuration: <problem> for <path>`. A problem already in that form
    is kept as it is, so a caller adding context can re-raise an error's own text."""
    if problem.startswith(PREFIX):
        return problem
    return f"{PREFIX}{problem}" + (f" for {path}" if path else "")


def in_file(line: str, file: object) -> str:
    """The line with the file it is about, the same way in every tool: `<line> (in FILE)`."""
    return f"{line} (in {file})"


def dotted(path: Path) -> str:
    """A key path as a person finds it in the YAML: `sources.1.variables.0.name`."""
    return ".".join(str(part) for part in path) or "the top level"


def describe_validation_error(
    error: ValidationError,
    model: type[BaseModel],
    *,
    moved_keys: Mapping[str, str] | None = None,
    hints: Mapping[str, str] | None = None,
    location: Callable[[Path], str] = dotted,
) -> str:
    """One line for all of pydantic's errors validating `model`.

    `moved_keys` maps old dotted keys to where they live now; `hints` maps a dotted key to what it
    expects, in the domain's words (`"expected a preset or a mapping"`), for a value of the wrong
    type; `location` names a key path for the reader (dotted YAML keys unless, say, the values come
    from environment variables).
    """
    groups = _groups(error.errors(), model)
    order = list(groups)
    primary = next((p for p in order if _kind(groups[p]) == _UNKNOWN), order[0])
    used = {primary}
    if _kind(groups[primary]) == _UNKNOWN:
        first, intended = _unknown_key(primary, model, groups, moved_keys or {})
        parts = [f"{first} for {location(primary)}"]
        for path in order:
            if path not in used and _leaves_missing(path, primary, intended, groups):
                parts.append(f"missing required key for {location(path)}")
                used.add(path)
    else:
        parts = [f"{_message(primary, groups[primary], hints or {})} for {location(primary)}"]
    more = len(order) - len(used)
    if more:
        parts.append(f"and {more} more problem{'s' if more > 1 else ''}")
    return invalid("; ".join(parts))


def _groups(errors: list[Any], model: type[BaseModel]) -> dict[Path, Group]:
    """pydantic's errors by YAML key path; a union's members that failed at the same key are one
    group (their words are joined: "a number or a list of 2 numbers")."""
    groups: dict[Path, Group] = {}
    for error in errors:
        loc = tuple(error["loc"])
        if error["type"] == _UNKNOWN:  # the last part is the unknown key itself
            path, tag = (*_split(loc[:-1], model)[0], loc[-1]), None
        else:
            path, tag = _split(loc, model)
        groups.setdefault(path, []).append((tag, error))
    # A union member that failed deeper (chunks.preset) explains the failure better than the
    # members that did not fit at all (chunks: not a preset name).
    for path in list(groups):
        deeper = any(other[: len(path)] == path and len(other) > len(path) for other in groups)
        if deeper and all(tag for tag, _ in groups[path]):
            del groups[path]
    return groups


def _kind(group: Group) -> str:
    return str(group[0][1]["type"])


def _split(loc: Path, root: type[BaseModel]) -> tuple[Path, str | None]:
    """(YAML key path, union-member tag or None): the path ends where pydantic's location leaves
    the YAML (a union member such as 'float' or 'tuple[float, float]')."""
    annotation: Any = root
    path: list[Any] = []
    for part in loc:
        members = _members(annotation)
        if len(members) > 1:  # pydantic names the member it tried next: a tag, not a key
            chosen = next((m for m in members if _is_model(m) and m.__name__ == part), None)
            if chosen is None:
                return tuple(path), str(part)
            annotation = chosen
            continue
        annotation = members[0] if members else Any
        if _is_model(annotation):
            field = _field(annotation, str(part))
            if field is None:
                return tuple(path), str(part)
            annotation = field.annotation
        else:
            annotation = _item_type(annotation, part)
        path.append(part)
    return tuple(path), None


def _members(annotation: Any) -> list[Any]:
    """The types a value of `annotation` may be (None left out, Annotated unwrapped)."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) if arg is not type(None) for m in _members(arg)]
    return [annotation]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _field(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias, field.validation_alias):
            return field
    return None


def _item_type(annotation: Any, part: Any) -> Any:
    """The type of one item of a list, tuple or mapping (Any where it cannot be told)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple and args and args[-1] is not Ellipsis and isinstance(part, int) and part < len(args):
        return args[part]
    if origin is not None and args:
        return args[-1] if args[-1] is not Ellipsis else args[0]
    return Any


def _model_at(path: Path, root: type[BaseModel]) -> type[BaseModel] | None:
    """The model whose keys live at `path` (None if the path holds no model)."""
    annotation: Any = root
    for part in path:
        models = [m for m in _members(annotation) if _is_model(m)]
        plain = [m for m in _members(annotation) if not _is_model(m)]
        if isinstance(part, int) or not models:
            annotation = _item_type(plain[0], part) if plain else Any
            continue
        field = next((f for m in models if (f := _field(m, str(part))) is not None), None)
        if field is None:
            return None
        annotation = field.annotation
    models = [m for m in _members(annotation) if _is_model(m)]
    return models[0] if models else None


def _unknown_key(
    path: Path, root: type[BaseModel], groups: dict[Path, Group], moved_keys: Mapping[str, str]
) -> tuple[str, Path | None]:
    """("unknown key 'x' (did you mean 'y'?)", the key path meant) for an unknown key at `path`."""
    key, parent = str(path[-1]), path[:-1]
    moved = moved_keys.get(".".join(str(p) for p in path))
    if moved is not None:
        meant = tuple(moved.split("."))
        return f"unknown key {key!r} (moved to {moved})", meant
    missing = [str(p[-1]) for p in groups if p[:-1] == parent and _kind(groups[p]) == "missing"]
    model = _model_at(parent, root)
    accepted = list(model.model_fields) if model is not None else []
    close = did_you_mean(key, missing) or did_you_mean(key, accepted)
    if close is None:
        return f"unknown key {key!r}", None
    return f"unknown key {key!r} (did you mean {close!r}?)", (*parent, close)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to a misspelt `word`, if one is close enough to be the likely intent."""
    found = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return found[0] if found else None


def _leaves_missing(path: Path, unknown: Path, meant: Path | None, groups: dict[Path, Group]) -> bool:
    """Whether the missing key at `path` is the one the unknown key was meant to be (every missing
    sibling when nothing is close enough to tell)."""
    if _kind(groups[path]) != "missing":
        return False
    if meant is None:
        return path[:-1] == unknown[:-1]
    named = tuple(str(p) for p in meant)
    return tuple(str(p) for p in path) == named[: len(path)]


def _message(path: Path, group: Group, hints: Mapping[str, str]) -> str:
    """What is wrong at one key: what is expected and what was found, in YAML words."""
    first = group[0][1]
    if first["type"] == "missing":
        return "missing required key"
    hint = hints.get(".".join(str(p) for p in path))
    if hint and any(e["type"] in _TYPE_WORDS or e["type"] in _CHOICES for _, e in group):
        return f"{hint}, found {_show(first.get('input'))}"
    words = [_member_words(tag, error) for tag, error in group]
    if all(words):
        expected = " or ".join(dict.fromkeys(words))
        top = next((e for tag, e in group if tag is None or e["loc"][-1] == tag), first)
        return f"expected {expected}, found {_show(top.get('input'))}"
    message = str(first["msg"])
    if first["type"] in ("value_error", "assertion_error"):  # the project's own validators' words
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return _lower_first(message)


def _member_words(tag: str | None, error: dict[str, Any]) -> str:
    """What one union member (or the only type) expects, in YAML words ("" if there are none)."""
    if tag and tag.startswith("tuple["):
        n = len(tag[len("tuple[") : -1].split(","))
        return f"a list of {n} numbers" if "float" in tag or "int" in tag else f"a list of {n} values"
    if error["type"] in _CHOICES:
        return "one of " + str((error.get("ctx") or {}).get("expected", "the allowed values"))
    if tag and re.fullmatch(r"[A-Z]\w*", tag):
        return "a mapping"
    return _TYPE_WORDS.get(error["type"], "")


def _lower_first(text: str) -> str:
    """pydantic's sentences start with a capital; in the middle of our line they do not (an
    acronym such as `URL` keeps its case, and so do the project's own validators' messages, which
    may start with a name such as `Ontop`)."""
    if text[1:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
