"""The catalogue of platform services, as data, grouped by concern.

`build(ctx)` returns every enabled group's specs (pure values, testable without Pulumi); the gateway
comes last because its routes and homepage are derived from all the others. `ServiceGroup` deploys
one group's specs as `SwarmService` children.
"""

from __future__ import annotations

from components.catalogue import data, gateway, identity, logs, monitoring, portainer, social_media
from components.catalogue.common import ADMIN_SERVICES, NETWORKS, Context
from components.catalogue.group import ServiceGroup, ServiceGroupArgs
from components.service_spec import ServiceSpec

GROUPS = ("identity", "monitoring", "logs", "portainer", "data", "social-media", "gateway")


def build(ctx: Context) -> dict[str, list[ServiceSpec]]:
    """Group name -> specs of its enabled services, in creation order; empty groups are left out."""
    groups: dict[str, list[ServiceSpec]] = {
        "identity": identity.specs(ctx),
        "monitoring": monitoring.specs(ctx),
        "logs": logs.specs(ctx),
        "portainer": portainer.specs(ctx),
        "data": data.specs(ctx),
        "social-media": social_media.specs(ctx),
    }
    others = [spec for specs in groups.values() for spec in specs]
    groups["identity"] += identity.clients_job(ctx, others)
    others = [spec for specs in groups.values() for spec in specs]
    groups["gateway"] = gateway.specs(ctx, others)
    names = [spec.name for specs in groups.values() for spec in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate service names in the catalogue: {duplicates}")
    return {group: specs for group, specs in groups.items() if specs}


def all_specs(groups: dict[str, list[ServiceSpec]]) -> list[ServiceSpec]:
    return [spec for specs in groups.values() for spec in specs]


__all__ = [
    "ADMIN_SERVICES",
    "GROUPS",
    "NETWORKS",
    "Context",
    "ServiceGroup",
    "ServiceGroupArgs",
    "all_specs",
    "build",
]
