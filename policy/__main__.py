"""CrossGuard policy pack `deepcube-platform`: the checks of `python -m infra.plan check`, in the engine.

Run by the Pulumi CLI (`pulumi preview --policy-pack policy/`), in the pack's own virtualenv.
Each policy is a thin wrapper over a plain function of `infra.policies`, so offline checks and
engine checks never drift. The repository root is put on the path to import `infra`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

from infra.policies import PolicySettings
from policy.adapter import (
    PACK_RESOURCE_POLICIES,
    PACK_STACK_POLICIES,
    check_resource,
    check_stack,
)

CONFIG = PolicyConfigSchema(
    properties={
        "gpu_budget": {"type": "integer", "minimum": 0, "default": PolicySettings().gpu_budget},
        "gpu_flavors": {"type": "array", "items": {"type": "string"}},
        "external_networks": {"type": "array", "items": {"type": "string"}},
    }
)


def _resource_policy(name: str) -> ResourceValidationPolicy:
    def validate(args, report_violation) -> None:
        for violation in check_resource(name, args, args.get_config()):
            report_violation(violation.message)

    doc = (PACK_RESOURCE_POLICIES[name].__doc__ or name).strip().splitlines()[0]
    return ResourceValidationPolicy(name=name, description=doc, validate=validate, config_schema=CONFIG)


def _stack_policy(name: str) -> StackValidationPolicy:
    def validate(args, report_violation) -> None:
        for violation in check_stack(name, args.resources, args.get_config()):
            report_violation(violation.message, violation.urn)

    doc = (PACK_STACK_POLICIES[name].__doc__ or name).strip().splitlines()[0]
    return StackValidationPolicy(name=name, description=doc, validate=validate, config_schema=CONFIG)


PolicyPack(
    name="deepcube-platform",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        *map(_resource_policy, sorted(PACK_RESOURCE_POLICIES)),
        *map(_stack_policy, sorted(PACK_STACK_POLICIES)),
    ],
)
