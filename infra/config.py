"""The whole stack configuration as one typed, validated model.

Only `infra/` reads `pulumi.Config`; components receive these values. Validation runs before any
resource is declared, and every error names the YAML key at fault (e.g. `swarm.managers.count`),
so a typo in a stack file fails the plan instead of deploying something else.

Sections (top-level keys of the stack config, `deepcube-platform:<section>`):
`cloud`, `network`, `access`, `swarm`, `hopsworks`, `storage`, `dns`, `services`. Each section's
model lives in its own module (`cloud_config`, `network_config` for `network` and `access`,
`pools_config` for `swarm` and `hopsworks`, `storage_config`, `dns_config`, `services_config`);
here they are put together, checked across sections and loaded. Other keys (e.g. `policy`) belong
to other readers and are never read here. Every error has the platform's one form,
`Invalid configuration: <message> for <dotted.key>` (`deepcube.config_errors`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import pulumi
from pydantic import ValidationError

from components.secret_stand_ins import SECRET_STAND_INS, StrictModel
from components.services_config import ServicesConfig
from deepcube.config_errors import describe_validation_error, invalid
from infra.cloud_config import CloudConfig, endpoint_region, s3_domain
from infra.config_errors import MOVED_KEYS, ConfigError
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
            raise ConfigError(invalid(f"the first network {primary!r} must be routed", f"{key}.networks"))
        for role in links:
            if getattr(cfg.network.roles, role).routed:
                message = (
                    f"secondary network {role!r} must be unrouted (a second default route breaks routing)"
                )
                raise ConfigError(invalid(message, f"{key}.networks"))
        if spec.eodata and cfg.cloud.eodata is None:
            raise ConfigError(invalid("cloud.eodata is not set", f"{key}.eodata"))
    if cfg.services.domain != cfg.dns.domain and not cfg.services.domain.endswith(f".{cfg.dns.domain}"):
        message = f"{cfg.services.domain!r} is not within dns.domain {cfg.dns.domain!r}"
        raise ConfigError(invalid(message, "services.domain"))
    if cfg.dns.provider == "designate" and cfg.dns.zone_email is None:
        raise ConfigError(invalid("designate zones need a contact address", "dns.zone_email"))
    if cfg.storage.public_container in cfg.storage.private_containers:
        message = f"{cfg.storage.public_container!r} is also the public container"
        raise ConfigError(invalid(message, "storage.private_containers"))
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
        message = (
            f"{store.region} is the compute region (cloud.region); {domain.provider}'s object store "
            f"regions are not its compute regions (the endpoint {store.endpoint} serves {served})"
        )
        raise ConfigError(invalid(message, f"{key}.region"))
    if served is not None and store.region.lower() != served:
        message = f"the endpoint {store.endpoint} serves region {served}, not {key}.region {store.region}"
        raise ConfigError(invalid(message, f"{key}.endpoint"))
    if served is not None and store.signing_region != served:
        message = f"{store.endpoint} expects requests signed for {served!r}, not {store.signing_region!r}"
        raise ConfigError(invalid(message, f"{key}.signing_region"))


def _check_cube_locations(cfg: PlatformConfig) -> None:
    """A cube is read from one of the stack's own containers or from EODATA, nothing else."""
    containers = [cfg.storage.public_container, *cfg.storage.private_containers]
    for index, cube in enumerate(cfg.services.data.cubes):
        key = f"services.data.cubes.{index}"
        if cube.container is not None and cube.container not in containers:
            message = f"{cube.container!r} is not one of the stack's containers ({', '.join(containers)})"
            raise ConfigError(invalid(message, f"{key}.container"))
        if cube.eodata is not None and cfg.cloud.eodata is None:
            raise ConfigError(invalid("cloud.eodata is not set", f"{key}.eodata"))


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
        raise ConfigError(describe_validation_error(exc, PlatformConfig, moved_keys=MOVED_KEYS)) from None
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
        message = (
            "keys must be stored as a secret "
            "(pulumi config set --secret --path cloud.eodata.credentials ACCESS:SECRET)"
        )
        raise ConfigError(invalid(message, "cloud.eodata.credentials"))
