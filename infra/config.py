"""The whole stack configuration as one typed, validated model.

Only `infra/` reads `pulumi.Config`; components receive these values. Validation runs before any
resource is declared, and every error names the YAML key at fault (e.g. `swarm.managers.count`),
so a typo in a stack file fails the plan instead of deploying something else.

Sections (top-level keys of the stack config, `deepcube-platform:<section>`):
`cloud`, `network`, `access`, `swarm`, `hopsworks`, `storage`, `dns`, `services`. Each section's
model lives in its own module (`cloud_config`, `network_config` for `network` and `access`,
`pools_config` for `swarm` and `hopsworks`, `storage_config`, `dns_config`, `services_config`);
here they are put together, checked across sections and loaded. Other keys (e.g. `policy`) belong
to other readers and are never read here; error messages are `infra.config_errors`.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import pulumi
from pydantic import ValidationError

from components.secret_stand_ins import SECRET_STAND_INS, StrictModel
from components.services_config import ServicesConfig
from infra.cloud_config import CloudConfig, endpoint_region, s3_domain
from infra.config_errors import ConfigError, describe_error
from infra.dns_config import DnsConfig
from infra.network_config import AccessConfig, NetworkConfig
from infra.pools_config import HopsworksConfig, NodeSpec, SwarmConfig
from infra.stack_files import secret_stand_ins
from infra.storage_config import StorageConfig

CONFIG_SECTIONS = ("cloud", "network", "access", "swarm", "hopsworks", "storage", "dns", "services")


class PlatformConfig(StrictModel):
    """Everything `infra/__main__.py` needs, validated in one place."""

    project: str
    stack: str
    cloud: CloudConfig
    network: NetworkConfig
    access: AccessConfig
    swarm: SwarmConfig
    hopsworks: HopsworksConfig
    storage: StorageConfig
    dns: DnsConfig
    services: ServicesConfig

    def image_of(self, spec: NodeSpec) -> str:
        return spec.image or self.cloud.image

    def node_specs(self) -> dict[str, NodeSpec]:
        """Every node spec by dotted config key."""
        return {
            "swarm.managers": self.swarm.managers,
            "swarm.workers": self.swarm.workers,
            "hopsworks.head": self.hopsworks.head,
            "hopsworks.workers": self.hopsworks.workers,
            "hopsworks.gpu_workers": self.hopsworks.gpu_workers,
        }


def _cross_check(cfg: PlatformConfig) -> None:
    """Rules that span sections; each names the key to fix."""
    for key, spec in cfg.node_specs().items():
        primary, *links = spec.networks
        if not getattr(cfg.network.roles, primary).routed:
            raise ConfigError(
                f"Invalid configuration: the first network {primary!r} must be routed for {key}.networks"
            )
        for role in links:
            if getattr(cfg.network.roles, role).routed:
                raise ConfigError(
                    f"Invalid configuration: secondary network {role!r} must be unrouted "
                    f"(a second default route breaks routing) for {key}.networks"
                )
        if spec.eodata and cfg.cloud.eodata is None:
            raise ConfigError(f"Invalid configuration: cloud.eodata is not set for {key}.eodata")
    if cfg.services.domain != cfg.dns.domain and not cfg.services.domain.endswith(f".{cfg.dns.domain}"):
        raise ConfigError(
            f"Invalid configuration: {cfg.services.domain!r} is not within dns.domain "
            f"{cfg.dns.domain!r} for services.domain"
        )
    if cfg.dns.provider == "designate" and cfg.dns.zone_email is None:
        raise ConfigError("Invalid configuration: designate zones need a contact address for dns.zone_email")
    if cfg.storage.public_container in cfg.storage.private_containers:
        raise ConfigError(
            f"Invalid configuration: {cfg.storage.public_container!r} is also the public container "
            "for storage.private_containers"
        )
    _check_cube_locations(cfg)
    _check_object_storage(cfg)


def _check_object_storage(cfg: PlatformConfig) -> None:
    """The object store's region, its endpoint and the signing region tell one story, and the compute
    region is not taken for the object store's where the provider keeps them apart."""
    store, compute = cfg.cloud.object_storage, cfg.cloud.region
    key = "cloud.object_storage"
    domain = s3_domain(store.endpoint)
    served = endpoint_region(store.endpoint)
    if domain is not None and domain.separate_regions and store.region.upper() == compute.upper():
        raise ConfigError(
            f"Invalid configuration: {store.region} is the compute region (cloud.region); "
            f"{domain.provider}'s object store regions are not its compute regions "
            f"(the endpoint {store.endpoint} serves {served}) for {key}.region"
        )
    if served is not None and store.region.lower() != served:
        raise ConfigError(
            f"Invalid configuration: the endpoint {store.endpoint} serves region {served}, not "
            f"{key}.region {store.region} for {key}.endpoint"
        )
    if served is not None and store.signing_region != served:
        raise ConfigError(
            f"Invalid configuration: {store.endpoint} expects requests signed for {served!r}, "
            f"not {store.signing_region!r} for {key}.signing_region"
        )


def _check_cube_locations(cfg: PlatformConfig) -> None:
    """A cube is read from one of the stack's own containers or from EODATA, nothing else."""
    containers = [cfg.storage.public_container, *cfg.storage.private_containers]
    for index, cube in enumerate(cfg.services.data.cubes):
        key = f"services.data.cubes[{index}]"
        if cube.container is not None and cube.container not in containers:
            raise ConfigError(
                f"Invalid configuration: {cube.container!r} is not one of the stack's containers "
                f"({', '.join(containers)}) for {key}.container"
            )
        if cube.eodata is not None and cfg.cloud.eodata is None:
            raise ConfigError(f"Invalid configuration: cloud.eodata is not set for {key}.eodata")


def from_mapping(
    project: str, stack: str, sections: dict[str, Any], secret_stand_ins: Collection[str] = ()
) -> PlatformConfig:
    """Validate plain values (as read from YAML) into the model; errors name the dotted key.

    `secret_stand_ins` are the offline placeholders of `--secret` values, excused from string
    patterns they cannot meet (see `components.secret_stand_ins.accept_secret_stand_in`).
    """
    data = {"project": project, "stack": stack, **sections}
    try:
        cfg = PlatformConfig.model_validate(data, context={SECRET_STAND_INS: frozenset(secret_stand_ins)})
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, PlatformConfig)) from None
    _cross_check(cfg)
    return cfg


def sections_of(project: str, values: dict[str, Any]) -> dict[str, Any]:
    """The sections this model reads, from namespaced stack values (`project:section` -> value)."""
    return {
        section: values[f"{project}:{section}"]
        for section in CONFIG_SECTIONS
        if f"{project}:{section}" in values
    }


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
    secret_sections = {s for s in sections if pulumi.runtime.is_config_secret(config.full_key(s))}
    stand_ins = set().union(*(secret_stand_ins(sections[section]) for section in secret_sections))
    cfg = from_mapping(pulumi.get_project(), pulumi.get_stack(), sections, stand_ins)
    check_secret_keys(cfg, secret_sections)
    return cfg


def check_secret_keys(cfg: PlatformConfig, secret_sections: Collection[str]) -> None:
    """Keys that hold credentials must be stored encrypted (`pulumi config set --secret`), never as
    plain text in a stack file (Pulumi marks the whole section secret when one of its keys is)."""
    eodata = cfg.cloud.eodata
    if eodata is not None and eodata.credentials is not None and "cloud" not in secret_sections:
        raise ConfigError(
            "Invalid configuration: keys must be stored as a secret "
            "(pulumi config set --secret --path cloud.eodata.credentials ACCESS:SECRET) "
            "for cloud.eodata.credentials"
        )
