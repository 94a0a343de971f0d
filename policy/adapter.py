"""Engine resources -> `ResourceRecord`s, so the CrossGuard pack runs `infra.policies` unchanged.

Kept apart from `__main__.py` (which needs pulumi-policy) so that it is tested with the suite.
CrossGuard hands policies the resource inputs with camelCase names, as the offline manifest does,
but with secrets already decrypted: `secrets-only-as-secrets` therefore only runs offline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from infra.manifest import ResourceRecord
from infra.policies import RESOURCE_POLICIES, STACK_POLICIES, PolicyContext, PolicySettings, Violation

# Decrypted secrets would all look like leaks; see the module docstring.
OFFLINE_ONLY = frozenset({"secrets-only-as-secrets"})
PACK_RESOURCE_POLICIES = {k: v for k, v in RESOURCE_POLICIES.items() if k not in OFFLINE_ONLY}
PACK_STACK_POLICIES = dict(STACK_POLICIES)
SETTING_KEYS = tuple(PolicySettings.model_fields)


class EngineResource(Protocol):
    """What CrossGuard's `PolicyResource` and `ResourceValidationArgs` both provide."""

    resource_type: str
    props: Mapping[str, Any]
    urn: str
    name: str


def plain(value: Any) -> Any:
    """Proxies, mappings and sequences from the policy SDK -> plain JSON-like values."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def stack_of(urn: str) -> str:
    """`urn:pulumi:STACK::project::type::name` -> STACK."""
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]


def _urns(resources: Iterable[Any] | None) -> list[str]:
    return sorted(str(getattr(r, "urn", r)) for r in resources or ())


def record_of(resource: EngineResource, parent: str | None = None) -> ResourceRecord:
    """The engine's view of a resource as a record; stack policies (`StackValidationPolicy`) also
    get its dependencies, which the wiring invariants follow (e.g. a floating IP to its port)."""
    property_dependencies = getattr(resource, "property_dependencies", None) or {}
    return ResourceRecord(
        urn=resource.urn,
        type=resource.resource_type,
        name=resource.name,
        parent=parent,
        custom=True,
        provider=None,
        inputs=plain(resource.props),
        secret_inputs=[],
        dependencies=_urns(getattr(resource, "dependencies", None)),
        property_dependencies={str(key): _urns(deps) for key, deps in property_dependencies.items()},
        options={},
    )


def context_for(urn: str, config: Mapping[str, Any] | None) -> PolicyContext:
    """Settings come from the pack's policy config (`--policy-pack-config`), not the stack's."""
    settings = PolicySettings(**{k: v for k, v in (config or {}).items() if k in SETTING_KEYS})
    return PolicyContext(stack=stack_of(urn), settings=settings, stack_config={})


def check_resource(name: str, resource: EngineResource, config: Mapping[str, Any] | None) -> list[Violation]:
    return PACK_RESOURCE_POLICIES[name](record_of(resource), context_for(resource.urn, config))


def check_stack(
    name: str, resources: Iterable[EngineResource], config: Mapping[str, Any] | None
) -> list[Violation]:
    records = [record_of(r, getattr(getattr(r, "parent", None), "urn", None)) for r in resources]
    if not records:
        return []
    return PACK_STACK_POLICIES[name](records, context_for(records[0].urn, config))
