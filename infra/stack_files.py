"""Read a stack's configuration the way the Pulumi CLI does, without the CLI.

The offline plan, the tests and `--set` what-if plans all need the exact configuration a real
`pulumi up -s STACK` would see: the project defaults in `Pulumi.yaml` (scalars, `value:` objects
and `default:` of typed declarations) overlaid by `Pulumi.<stack>.yaml`. Secure values cannot be
decrypted here, so they become placeholders that the program still receives as secrets.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
SECRET_PLACEHOLDER = "secret-placeholder"


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


def _load_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise StackFileError(f"{path.name}: file not found in {path.parent}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path.name}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise StackFileError(f"{path.name}: expected a mapping at the top level")
    return data


def _namespaced(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def read_project(root: Path = REPO_ROOT) -> ProjectFile:
    """Parse `Pulumi.yaml`: project name, program folder and config defaults."""
    data = _load_yaml(root / "Pulumi.yaml")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise StackFileError("Pulumi.yaml: 'name' is required")
    defaults: dict[str, Any] = {}
    required_secrets: list[str] = []
    for key, spec in (data.get("config") or {}).items():
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


def read_stack(stack: str, root: Path = REPO_ROOT) -> tuple[ProjectFile, StackConfig]:
    """Project defaults overlaid by `Pulumi.<stack>.yaml`, secure values as secret placeholders."""
    project = read_project(root)
    stack_data = _load_yaml(root / f"Pulumi.{stack}.yaml")
    config = StackConfig(values=copy.deepcopy(project.defaults))
    for key, value in (stack_data.get("config") or {}).items():
        full_key = _namespaced(project.name, key)
        plain, secret = _strip_secure(value, full_key)
        config.values[full_key] = plain
        if secret:
            config.secret_keys.add(full_key)
    for key in project.required_secrets:
        if key not in config.values:
            config.values[key] = f"{SECRET_PLACEHOLDER}:{key}"
            config.secret_keys.add(key)
    return project, config


def parse_override(text: str) -> tuple[str, Any]:
    """`a.b.c=VALUE` -> (`a.b.c`, VALUE parsed as YAML so numbers and booleans keep their type)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise StackFileError(f"--set {text!r}: expected KEY=VALUE, e.g. hopsworks.gpu_workers.count=3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise StackFileError(f"--set {key}: value is not valid YAML ({exc})") from exc
    return key.strip(), value


def apply_override(config: StackConfig, project: str, dotted_key: str, value: Any) -> None:
    """Set one value by a dotted path: the first part is the config key, the rest walks its object.

    The parent objects must exist, so a typo in the middle of a path is reported rather than
    silently creating a new branch that the program would ignore.
    """
    head, *path = dotted_key.split(".")
    full_key = _namespaced(project, head)
    if not path:
        config.values[full_key] = value
        return
    if full_key not in config.values:
        raise StackFileError(f"--set {dotted_key}: no config key {head!r} in this stack")
    node = config.values[full_key]
    for depth, part in enumerate(path[:-1]):
        if not isinstance(node, dict) or part not in node:
            where = ".".join([head, *path[: depth + 1]])
            raise StackFileError(f"--set {dotted_key}: {where!r} does not exist in this stack")
        node = node[part]
    if not isinstance(node, dict):
        raise StackFileError(f"--set {dotted_key}: {'.'.join([head, *path[:-1]])!r} is not an object")
    node[path[-1]] = value
