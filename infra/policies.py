"""The registry of the plan's policies: plain functions over the offline plan's resource records.

Every policy reads `ResourceRecord`s (wire input names, secrets already redacted as "<secret>")
and returns `Violation`s, so the same code runs in three places: `python -m infra.plan check`
on every offline plan, the tests (synthetic records with injected violations), and the Pulumi
CrossGuard pack in `policy/`, which only adapts the engine's resources into records. The policies
live by concern: security and cost in `infra.rules`, the wiring invariants in `infra.invariants`.

Settings come from the stack config key `deepcube-platform:policy` (e.g. `{gpu_budget: 4}`),
validated like the rest of the config so a misspelt setting fails instead of being ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from deepcube.config_errors import describe_validation_error, dotted, invalid
from infra.invariants.access import (
    configs_hold_no_credentials,
    protected_routes_have_roles,
    user_workloads_isolated,
)
from infra.invariants.mtu import overlays_fit_node_networks
from infra.invariants.names import dns_names_match_sites
from infra.invariants.node_paths import docker_paths_match_nodes
from infra.invariants.oidc import oidc_clients
from infra.invariants.placement import host_ports_on_public_nodes, volumes_on_one_node
from infra.invariants.storage import storage_wiring
from infra.manifest import Manifest, ResourceRecord
from infra.policy_model import PolicyContext, PolicySettings, Violation
from infra.rules.cost import gpu_budget
from infra.rules.exposure import (
    instances_on_private_networks,
    no_public_admin_ports,
    no_public_admin_ports_union,
)
from infra.rules.images import images_pinned
from infra.rules.naming import tagged_with_stack
from infra.rules.secrets import secrets_only_as_secrets
from infra.rules.swarm_names import swarm_object_names

POLICY_CONFIG_KEY = "policy"


class PolicyConfigError(ValueError):
    """The `policy` stack config is invalid; the message names the key."""


ResourcePolicy = Callable[[ResourceRecord, PolicyContext], list[Violation]]
StackPolicy = Callable[[Sequence[ResourceRecord], PolicyContext], list[Violation]]


def load_settings(stack_config: Mapping[str, Any]) -> PolicySettings:
    """Validate the `policy` object of a stack's config; errors name `policy.<key>`."""
    raw = stack_config.get(POLICY_CONFIG_KEY) or {}
    if not isinstance(raw, Mapping):
        raise PolicyConfigError(invalid(f"expected a mapping, found {raw!r}", POLICY_CONFIG_KEY))
    try:
        return PolicySettings.model_validate(dict(raw))
    except ValidationError as exc:
        line = describe_validation_error(
            exc, PolicySettings, location=lambda path: dotted((POLICY_CONFIG_KEY, *path))
        )
        raise PolicyConfigError(line) from None


RESOURCE_POLICIES: dict[str, ResourcePolicy] = {
    "no-public-admin-ports": no_public_admin_ports,
    "images-pinned": images_pinned,
    "secrets-only-as-secrets": secrets_only_as_secrets,
    "tagged-with-stack": tagged_with_stack,
    "swarm-object-names": swarm_object_names,
}
STACK_POLICIES: dict[str, StackPolicy] = {
    "instances-on-private-networks": instances_on_private_networks,
    "gpu-budget": gpu_budget,
    "host-ports-on-public-nodes": host_ports_on_public_nodes,
    "volumes-on-one-node": volumes_on_one_node,
    "node-paths": docker_paths_match_nodes,
    "dns-names-match-sites": dns_names_match_sites,
    "storage-wiring": storage_wiring,
    "overlay-mtu": overlays_fit_node_networks,
    "protected-routes-have-roles": protected_routes_have_roles,
    "user-workloads-isolated": user_workloads_isolated,
    "configs-hold-no-credentials": configs_hold_no_credentials,
    "oidc-clients": oidc_clients,
    "no-public-admin-ports-union": no_public_admin_ports_union,
}


def check_records(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """All policies over all records, sorted so the output is stable."""
    violations: list[Violation] = []
    for record in records:
        for policy in RESOURCE_POLICIES.values():
            violations.extend(policy(record, ctx))
    for stack_policy in STACK_POLICIES.values():
        violations.extend(stack_policy(records, ctx))
    return sorted(violations)


def short_config(values: Mapping[str, Any], project: str) -> dict[str, Any]:
    """`project:key` config values -> `key` for this project (other namespaces dropped)."""
    prefix = f"{project}:"
    return {key.removeprefix(prefix): value for key, value in values.items() if key.startswith(prefix)}


def check_manifest(manifest: Manifest, stack_config: Mapping[str, Any]) -> list[Violation]:
    """Run every policy on a manifest with settings from the (short-keyed) stack config."""
    ctx = PolicyContext(
        stack=manifest.stack,
        settings=load_settings(stack_config),
        stack_config=stack_config,
        outputs=manifest.outputs,
    )
    return check_records(manifest.resources, ctx)
