"""The whole stack configuration as one typed, validated model.

Only `infra/` reads `pulumi.Config`; components receive these values. Validation runs before any
resource is declared, and every error names the YAML key at fault (e.g. `network.roles.swarm`),
so a typo in a stack file fails the plan instead of deploying something else.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

CONFIG_SECTIONS = ("cloud", "network")


class StrictModel(BaseModel):
    """Unknown keys are errors: a misspelt key must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CloudConfig(StrictModel):
    """Where the stack runs; every cloud difference is a value here, never a branch in code."""

    name: str = Field(description="Short cloud label used in resource names and tags, e.g. 'ovh'.")
    region: str = Field(description="OpenStack region, e.g. GRA9 or WAW3-1.")
    external_network: str = Field(description="Name of the provider's external (public) network.")


class NetworkConfig(StrictModel):
    """Private networks, one per role, each with its own CIDR."""

    dns_servers: list[str] = Field(min_length=1, description="Resolvers handed out by every subnet.")
    roles: dict[str, str] = Field(description="Role name -> IPv4 CIDR of that role's subnet.")

    @field_validator("roles")
    @classmethod
    def _cidrs_are_private_and_disjoint(cls, roles: dict[str, str]) -> dict[str, str]:
        networks = {}
        for role, cidr in roles.items():
            try:
                net = ipaddress.ip_network(cidr)
            except ValueError as exc:
                raise ValueError(f"{role}: {cidr!r} is not a CIDR") from exc
            if not net.is_private:
                raise ValueError(f"{role}: {cidr} is not a private range")
            for other, other_net in networks.items():
                if net.overlaps(other_net):
                    raise ValueError(f"{role}: {cidr} overlaps {other} ({other_net})")
            networks[role] = net
        return roles


class PlatformConfig(StrictModel):
    """Everything `infra/__main__.py` needs, validated in one place."""

    project: str
    stack: str
    cloud: CloudConfig
    network: NetworkConfig


class ConfigError(ValueError):
    """A stack config value is missing or invalid; the message names the YAML key."""


def _dotted(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location)


def from_mapping(project: str, stack: str, sections: dict[str, Any]) -> PlatformConfig:
    """Validate plain values (as read from YAML) into the model; errors name the dotted key."""
    try:
        return PlatformConfig(project=project, stack=stack, **sections)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _dotted(first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"Invalid configuration: {message} for {key}") from None


def load() -> PlatformConfig:
    """Read the current stack's config through `pulumi.Config` (the only place that does)."""
    config = pulumi.Config()
    sections: dict[str, Any] = {}
    for section in CONFIG_SECTIONS:
        raw = config.get(section)
        if raw is None:
            continue
        try:
            sections[section] = json.loads(raw)
        except json.JSONDecodeError:
            sections[section] = raw
    return from_mapping(pulumi.get_project(), pulumi.get_stack(), sections)
