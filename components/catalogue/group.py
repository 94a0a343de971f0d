"""One catalogue group (gateway, identity, ...) as a component: its services as `SwarmService` children."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.service import SwarmService, SwarmServiceArgs
from components.service_spec import ServiceSpec


@dataclass
class ServiceGroupArgs:
    """Inputs of one group."""

    specs: Sequence[ServiceSpec]
    """The group's services, each after the ones it names in `after`."""
    provider: docker.Provider
    prefix: str
    network_ids: Mapping[str, pulumi.Input[str]]
    secrets: Mapping[str, docker.Secret]
    deployed: MutableMapping[str, SwarmService] = field(default_factory=dict)
    """Services created so far (shared across groups): `after` names resolve here; this group adds its own."""


def _type_token(group: str) -> str:
    return "deepcube:services:" + "".join(part.capitalize() for part in group.split("-"))


class ServiceGroup(pulumi.ComponentResource):
    """A concern's services; the type token names the group, e.g. `deepcube:services:Monitoring`."""

    services: dict[str, SwarmService]

    def __init__(
        self, name: str, group: str, args: ServiceGroupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(_type_token(group), name, None, opts)
        self.services = {}
        for spec in args.specs:
            unknown = [dep for dep in spec.after if dep not in args.deployed]
            if unknown:
                raise ValueError(f"{spec.name}: 'after' names {unknown}, which are not deployed before it")
            service = SwarmService(
                f"{name}-{spec.name}",
                SwarmServiceArgs(
                    spec=spec,
                    provider=args.provider,
                    prefix=args.prefix,
                    network_ids=args.network_ids,
                    secrets=args.secrets,
                    depends_on=[args.deployed[dep].service for dep in spec.after],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.services[spec.name] = service
            args.deployed[spec.name] = service
        self.register_outputs({"services": {k: v.service.id for k, v in self.services.items()}})
