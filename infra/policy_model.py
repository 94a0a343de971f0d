"""The values every policy speaks in: its settings, what it may know, and what it reports.

Kept apart from `infra.policies` (the registry of policies) so that policy modules elsewhere,
such as the wiring invariants in `infra.invariants`, can use them without an import cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PolicySettings(BaseModel):
    """Policy knobs per stack, from the `deepcube-platform:policy` config object."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu_budget: int = Field(default=4, ge=0, description="Most GPU instances the stack may declare.")
    gpu_flavors: tuple[str, ...] = Field(
        default=(), description="Extra flavour globs counted as GPU, on top of the known ones."
    )
    external_networks: tuple[str, ...] = Field(
        default=(), description="Extra names/ids of public networks; routers' gateways are always public."
    )


@dataclass(frozen=True, order=True)
class Violation:
    """One broken rule, about one resource (`urn`) or the whole stack (`urn` is None)."""

    policy: str
    urn: str | None
    message: str

    def line(self) -> str:
        """The one-line form printed by `check`: policy, resource name and what is wrong."""
        where = self.urn.rsplit("::", 1)[-1] if self.urn else "stack"
        return f"{self.policy}: {where}: {self.message}"


@dataclass(frozen=True)
class PolicyContext:
    """What a policy may know besides the resources: the stack's name and its settings."""

    stack: str
    settings: PolicySettings
    stack_config: Mapping[str, Any]
    """Plain stack config values by short key (e.g. `hopsworks`), for facts like the GPU flavour."""
    outputs: Mapping[str, Any] = field(default_factory=dict)
    """The stack's exports as the plan records them (e.g. `dns_names`)."""
