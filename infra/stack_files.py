"""Read a stack's configuration the way the Pulumi CLI does, without the CLI.

The offline plan, the tests and `--set` what-if plans all need the exact configuration a real
`pulumi up -s STACK` would see: the project defaults in `Pulumi.yaml` (scalars, `value:` objects
and `default:` of typed declarations) overlaid by `Pulumi.<stack>.yaml`. Secure values cannot be
decrypted here, so they become placeholders that the program still receives as secrets (and that
its config model excuses from string patterns they cannot meet: `components.secret_stand_ins`).

A malformed file is one `StackFileError` line naming the file, and the line and column for YAML
errors: a tab, an unclosed bracket, a key given twice, an empty file, an unknown key.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deepcube.cli import one_line
from deepcube.config_errors import did_you_mean

REPO_ROOT = Path(__file__).resolve().parent.parent
SECRET_PLACEHOLDER = "secret-placeholder"

STACK_FILE_FIELDS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
"""The top-level keys the Pulumi CLI reads in `Pulumi.<stack>.yaml`."""


class StackFileError(ValueError):
    """A project or stack file is missing or malformed, or an override names a bad key."""


@dataclass(frozen=True)
class ProjectFile:
    """What the offline runner needs from `Pulumi.yaml`."""

    name: str
    main: Path
    defaults: dict[str, Any]
    required_secrets: tuple[str, ...] = ()
    """Keys declared `secret: true` without a default: each stack must set them with
    `pulumi config set --secret`; offline plans stand in a placeholder where a stack has none."""
    declared: tuple[str, ...] = ()
    """Every key `Pulumi.yaml` declares (namespaced), with or without a default."""


@dataclass
class StackConfig:
    """Namespaced config values (`project:key` -> plain Python value) and the keys that are secret."""

    values: dict[str, Any] = field(default_factory=dict)
    secret_keys: set[str] = field(default_factory=set)

    def as_pulumi_strings(self) -> dict[str, str]:
        """Pulumi passes config to programs as strings; objects and lists travel as JSON."""
        encoded: dict[str, str] = {}
        for key, value in self.values.items():
            if isinstance(value, str):
                encoded[key] = value
            elif isinstance(value, bool):
                encoded[key] = "true" if value else "false"
            else:
                encoded[key] = json.dumps(value, sort_keys=True)
        return encoded


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping.

    PyYAML keeps the last of two equal keys silently, so a second `config:` (or `count:`) would
    throw away everything written under the first one and fail later with a misleading message.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool):
                continue
            if key in seen:
                problem = f"duplicate key {key!r} (first at line {seen[key]})"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _yaml_error(path: Path, exc: yaml.YAMLError) -> StackFileError:
    """`FILE:LINE:COLUMN: not valid YAML: PROBLEM (CONTEXT at line L, column C)`, on one line."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else path.name
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and (mark is None or context_mark.line != mark.line):
        problem = f"{problem} ({context} at line {context_mark.line + 1}, column {context_mark.column + 1})"
    return StackFileError(one_line(f"{where}: not valid YAML: {problem}"))


def _load_yaml(path: Path, expected: str) -> dict[str, Any]:
    """The top-level mapping of a project or stack file; `expected` says what an empty file lacks."""
    if not path.exists():
        raise StackFileError(f"{path.name}: file not found in {path.parent}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StackFileError(one_line(f"{path.name}: cannot be read ({exc})")) from None
    if data is None:
        raise StackFileError(f"{path.name}: the file is empty (expected {expected})")
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name}: expected a mapping at the top level, found {type(data).__name__}")
    return data


def _hint(word: str, candidates: Iterable[str]) -> str:
    close = did_you_mean(word, candidates)
    return f" (did you mean {close}?)" if close else ""


def _namespaced(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def read_project(root: Path = REPO_ROOT) -> ProjectFile:
    """Parse `Pulumi.yaml`: project name, program folder and config defaults."""
    data = _load_yaml(root / "Pulumi.yaml", "'name:', 'runtime:' and the project's config")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise StackFileError("Pulumi.yaml: 'name' is required")
    declared_config = data.get("config") or {}
    if not isinstance(declared_config, dict):
        raise StackFileError("Pulumi.yaml: 'config' must be a mapping of keys to values")
    defaults: dict[str, Any] = {}
    required_secrets: list[str] = []
    for key, spec in declared_config.items():
        if isinstance(spec, dict) and "value" in spec:
            value = spec["value"]
        elif isinstance(spec, dict) and ("type" in spec or "default" in spec):
            if "default" not in spec:
                if spec.get("secret"):
                    required_secrets.append(_namespaced(name, key))
                continue
            value = spec["default"]
        else:
            value = spec
        defaults[_namespaced(name, key)] = value
    return ProjectFile(
        name=name,
        main=root / str(data.get("main", ".")),
        defaults=defaults,
        required_secrets=tuple(required_secrets),
        declared=tuple(_namespaced(name, str(key)) for key in declared_config),
    )


def _strip_secure(value: Any, key: str) -> tuple[Any, bool]:
    """Replace `{secure: ...}` leaves by placeholders; report whether any were found.

    The placeholder carries a digest of the ciphertext, so a re-encrypted (changed) secret gives
    a different stand-in value and the plan diff can say the secret changed without knowing it.
    """
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            digest = hashlib.sha256(str(value["secure"]).encode()).hexdigest()[:12]
            return f"{SECRET_PLACEHOLDER}:{key}:{digest}", True
        found = False
        result = {}
        for sub_key, sub_value in value.items():
            result[sub_key], sub_found = _strip_secure(sub_value, f"{key}.{sub_key}")
            found = found or sub_found
        return result, found
    if isinstance(value, list):
        items = [_strip_secure(item, f"{key}[{i}]") for i, item in enumerate(value)]
        return [item for item, _ in items], any(found for _, found in items)
    return value, False


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def check_known_keys(
    path: Path, project: ProjectFile, stack_config: dict[str, Any], known: Collection[str]
) -> None:
    """Refuse a project key the program never reads: a misspelt section would be ignored silently.

    Known are `known` (the sections the program and its tools read), the keys `Pulumi.yaml`
    declares, and whole `--secret` values (secrets the program reads by a name given elsewhere,
    e.g. the social-media API keys). Keys of other namespaces (`openstack:region`) belong to
    providers and are not judged here.
    """
    declared = {key.partition(":")[2] for key in project.declared if key.startswith(f"{project.name}:")}
    for key, value in stack_config.items():
        namespace, _, short = _namespaced(project.name, str(key)).partition(":")
        if namespace != project.name or short in known or short in declared or _is_secure(value):
            continue
        raise StackFileError(
            f"{path.name}: unknown config key {key}{_hint(short, [*known, *declared])}; "
            f"known: {', '.join(sorted({*known, *declared}))}"
        )


def read_stack(
    stack: str,
    root: Path = REPO_ROOT,
    known_keys: Collection[str] | None = None,
    config_file: Path | None = None,
) -> tuple[ProjectFile, StackConfig]:
    """Project defaults overlaid by `Pulumi.<stack>.yaml`, secure values as secret placeholders.

    `config_file` reads the stack's values from another file, like `pulumi --config-file`.
    With `known_keys`, a project key outside them (and outside `Pulumi.yaml`) is an error.
    """
    project = read_project(root)
    path = config_file or root / f"Pulumi.{stack}.yaml"
    stack_data = _load_yaml(path, "a 'config:' mapping of this stack's values")
    for key in stack_data:
        if key not in STACK_FILE_FIELDS:
            raise StackFileError(
                f"{path.name}: unknown top-level key {key}{_hint(str(key), STACK_FILE_FIELDS)}; "
                f"a stack file holds {', '.join(STACK_FILE_FIELDS)}"
            )
    if "config" in stack_data and stack_data["config"] is None:
        raise StackFileError(f"{path.name}: 'config:' is empty (expected this stack's values under it)")
    stack_config = stack_data.get("config") or {}
    if not isinstance(stack_config, dict):
        raise StackFileError(f"{path.name}: 'config' must be a mapping of keys to values")
    if known_keys is not None:
        check_known_keys(path, project, stack_config, known_keys)
    config = StackConfig(values=copy.deepcopy(project.defaults))
    for key, value in stack_config.items():
        full_key = _namespaced(project.name, str(key))
        plain, secret = _strip_secure(value, full_key)
        config.values[full_key] = plain
        if secret:
            config.secret_keys.add(full_key)
    for key in project.required_secrets:
        if key not in config.values:
            config.values[key] = f"{SECRET_PLACEHOLDER}:{key}"
            config.secret_keys.add(key)
    return project, config


def is_secret_placeholder(value: object) -> bool:
    """Whether `value` is the offline stand-in of a `--secret` config value."""
    return isinstance(value, str) and value.startswith(f"{SECRET_PLACEHOLDER}:")


def secret_stand_ins(value: Any) -> set[str]:
    """Every secret placeholder inside a config value (leaves of objects and lists)."""
    if isinstance(value, dict):
        return set().union(*(secret_stand_ins(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(secret_stand_ins(item) for item in value))
    return {value} if is_secret_placeholder(value) else set()


def parse_override(text: str) -> tuple[str, Any]:
    """`a.b.c=VALUE` -> (`a.b.c`, VALUE parsed as YAML so numbers and booleans keep their type)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise StackFileError(f"--set {text!r}: expected KEY=VALUE, e.g. hopsworks.gpu_workers.count=3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise StackFileError(one_line(f"--set {key}: value is not valid YAML ({exc})")) from exc
    return key.strip(), value


def apply_override(
    config: StackConfig,
    project: str,
    dotted_key: str,
    value: Any,
    known_keys: Collection[str] | None = None,
) -> None:
    """Set one value by a dotted path: the first part is the config key, the rest walks its object.

    The parent objects must exist, so a typo in the middle of a path is reported rather than
    silently creating a new branch that the program would ignore. With `known_keys`, a new
    project key outside them is refused for the same reason.
    """
    head, *path = dotted_key.split(".")
    full_key = _namespaced(project, head)
    present = [key.partition(":")[2] for key in config.values if key.startswith(f"{project}:")]
    if full_key not in config.values:
        if path:
            raise StackFileError(
                f"--set {dotted_key}: no config key {head!r} in this stack{_hint(head, present)}"
            )
        short = full_key.partition(":")[2]
        if known_keys is not None and full_key.startswith(f"{project}:") and short not in known_keys:
            raise StackFileError(
                f"--set {dotted_key}: unknown config key {head!r}{_hint(short, [*known_keys, *present])}"
            )
    if not path:
        config.values[full_key] = value
        return
    node = config.values[full_key]
    for depth, part in enumerate(path[:-1]):
        if not isinstance(node, dict) or part not in node:
            where = ".".join([head, *path[: depth + 1]])
            raise StackFileError(f"--set {dotted_key}: {where!r} does not exist in this stack")
        node = node[part]
    if not isinstance(node, dict):
        raise StackFileError(f"--set {dotted_key}: {'.'.join([head, *path[:-1]])!r} is not an object")
    node[path[-1]] = value
