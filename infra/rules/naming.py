"""`tagged-with-stack`: every resource says which stack it belongs to."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from infra.manifest import ResourceRecord
from infra.policy_model import PolicyContext, Violation


def _mentions_stack(value: Any, stack: str) -> bool:
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(stack)}(?![A-Za-z0-9])")
    if isinstance(value, str):
        return bool(pattern.search(value))
    if isinstance(value, Mapping):
        return any(_mentions_stack(v, stack) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_stack(v, stack) for v in value)
    return False


def named_with_stack(record: ResourceRecord, ctx: PolicyContext) -> bool:
    """Whether the logical name, or the tags/metadata/labels, carry the stack name."""
    if _mentions_stack(record.name, ctx.stack):
        return True
    return any(_mentions_stack(record.inputs.get(key), ctx.stack) for key in ("tags", "metadata", "labels"))


def tagged_with_stack(record: ResourceRecord, ctx: PolicyContext) -> list[Violation]:
    """Every resource says which stack it belongs to, so two stacks in one project never collide.

    Pulumi's default providers (`default_*`) are created by the engine, not the program, and skipped.
    """
    if record.type.startswith("pulumi:providers:") and record.name.startswith("default"):
        return []
    if named_with_stack(record, ctx):
        return []
    message = f"name {record.name!r} does not carry the stack {ctx.stack!r}"
    return [Violation("tagged-with-stack", record.urn, message)]
