"""`gpu-budget`: the GPU instances a stack declares stay within its budget."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence

from infra.manifest import ResourceRecord
from infra.policy_model import PolicyContext, Violation
from infra.rules.records import INSTANCE, walk

# GPU flavours at the platform's clouds (OVH t1/t2, CreoDIAS vm.a6000/a100); stack config may add more.
KNOWN_GPU_FLAVORS = ("t1-*", "t2-*", "vm.a6000*", "vm.a100*", "*gpu*", "*nvidia*")


def _stack_gpu_flavors(ctx: PolicyContext) -> set[str]:
    """Flavour names found under any config path mentioning GPU (e.g. hopsworks.gpu_workers.flavor)."""
    found: set[str] = set()
    for path, key, value in walk(dict(ctx.stack_config)):
        if "gpu" in path.lower() and "flavor" in key.lower() and isinstance(value, str):
            found.add(value)
    return found


def is_gpu_instance(record: ResourceRecord, ctx: PolicyContext) -> bool:
    """GPU if the flavour is the stack's GPU flavour or a known GPU one, or metadata/tags say gpu."""
    if record.type != INSTANCE:
        return False
    flavor = record.inputs.get("flavorName")
    patterns = (*KNOWN_GPU_FLAVORS, *ctx.settings.gpu_flavors, *_stack_gpu_flavors(ctx))
    if isinstance(flavor, str) and any(fnmatch.fnmatchcase(flavor.lower(), p.lower()) for p in patterns):
        return True
    metadata = record.inputs.get("metadata") or {}
    if isinstance(metadata, Mapping) and str(metadata.get("gpu", "")).lower() in ("true", "1", "yes"):
        return True
    tags = record.inputs.get("tags") or []
    return isinstance(tags, list) and "gpu" in [str(tag).lower() for tag in tags]


def gpu_budget(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """The GPU pool stays within `policy.gpu_budget`: GPU hours are the platform's largest cost."""
    gpus = sorted(record.name for record in records if is_gpu_instance(record, ctx))
    budget = ctx.settings.gpu_budget
    if len(gpus) <= budget:
        return []
    shown = ", ".join(gpus[:5]) + (", ..." if len(gpus) > 5 else "")
    message = f"{len(gpus)} GPU instances exceed the budget of {budget} ({shown})"
    return [Violation("gpu-budget", None, message)]
