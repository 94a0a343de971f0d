"""The whole stack configuration as one typed, validated model.

Only `infra/` reads `pulumi.Config`; components receive these values. Validation runs before any
resource is declared, and every error names the YAML key at fault (e.g. `swarm.managers.count`),
so a typo in a stack file fails the plan instead of deploying something else.

Sections (top-level keys of the stack config, `deepcube-platform:<section>`):
`cloud`, `network`, `access`, `swarm`, `hopsworks`, `storage`, `dns`, `services` (the latter's
model lives in `infra/services_config.py`). Other keys (e.g. `policy`) belong to other readers and
are never read here.
"""

from __future__ import annotations

import ipaddress
import json
import re
import typing
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import pulumi
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from components.network import DEFAULT_MTU
from infra.services_config import ServicesConfig
from infra.stack_files import SECRET_STAND_INS, accept_secret_stand_in, did_you_mean, secret_stand_ins

CONFIG_SECTIONS = ("cloud", "network", "access", "swarm", "hopsworks", "storage", "dns", "services")

ROLES = ("swarm", "hopsworks", "data", "interlink")
"""The private network roles every stack has (one network + subnet each)."""


class StrictModel(BaseModel):
    """Unknown keys are errors: a misspelt key must not be silently ignored.

    Types are strict too: `count: true` is not 1 and `count: "3"` is not 3, so a slip in the YAML
    fails naming its key instead of being coerced. (The program reads each section as JSON, so
    numbers and booleans arrive typed.)
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @field_validator("*", mode="wrap")
    @classmethod
    def _secret_stand_in(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        return accept_secret_stand_in(value, handler, info)


class EodataConfig(StrictModel):
    """A provider's EO data repository, mounted read-only on the nodes that ask for it."""

    network: str | None = Field(
        default=None,
        min_length=1,
        description="Name of the provider network carrying EO data, attached to those nodes; unset: the "
        "archive is reached over the routed network (e.g. from another cloud, which needs credentials).",
    )
    bucket: str = Field(min_length=1, description="S3 bucket exposed as the EO data archive.")
    endpoint: str = Field(
        min_length=1, description="S3 endpoint URL of the archive, reachable from the nodes."
    )
    mount_point: str = Field(default="/eodata", pattern=r"^/[A-Za-z0-9_./-]*$")
    credentials: str | None = Field(
        default=None,
        pattern=r"^[^:\s]+(:[^:\s]+){1,2}$",
        description="Pulumi secret `ACCESS_KEY:SECRET_KEY` (s3fs' passwd format) when the archive needs keys "
        "(`pulumi config set --secret --path cloud.eodata.credentials ...`); unset: anonymous.",
    )


OBJECT_STORAGE_APIS = {
    "swift-s3api": "Swift containers reached through Swift's S3 API (s3api) with a Keystone EC2 credential",
}
"""What the program provisions: Swift containers and one EC2 credential, which only Swift's S3 API
accepts. A provider's separate S3 product (OVH's S3 Object Storage, `*.io.cloud.ovh.net`) keeps its
own buckets and users, which the program neither creates nor holds keys for."""


@dataclass(frozen=True)
class S3Domain:
    """A provider whose S3 endpoints name their object-store region in the host."""

    provider: str
    suffix: str
    """Domain suffix of the provider's endpoints, e.g. `.cloud.ovh.net`."""
    host: re.Pattern[str]
    """The S3 endpoint host of one region; group `region` is the region (and signing region)."""
    template: str
    separate_regions: bool
    """Whether the object store's regions are not the compute regions (OVH: GRA for GRA9)."""


S3_DOMAINS = (
    S3Domain(
        "OVH",
        ".cloud.ovh.net",
        re.compile(r"^s3\.(?P<region>[a-z0-9-]+)\.cloud\.ovh\.net$"),
        "https://s3.<swift-region>.cloud.ovh.net",
        separate_regions=True,
    ),
    S3Domain(
        "CloudFerro",
        ".cloudferro.com",
        re.compile(r"^s3\.(?P<region>[a-z0-9-]+)\.cloudferro\.com$"),
        "https://s3.<region>.cloudferro.com",
        separate_regions=False,
    ),
)
"""Known provider domains. An endpoint elsewhere (a private or stand-in S3 server, such as the box's)
says nothing about regions in its host, so only the `api`, the scheme and the keys' presence count."""
OVH_NATIVE_S3 = ".io.cloud.ovh.net"


def _host(endpoint: str) -> str:
    return (urlsplit(endpoint).hostname or "").lower()


def s3_domain(endpoint: str) -> S3Domain | None:
    """The known provider whose domain the endpoint is in, if any."""
    host = _host(endpoint)
    return next((domain for domain in S3_DOMAINS if host.endswith(domain.suffix)), None)


def endpoint_region(endpoint: str) -> str | None:
    """The region an endpoint of a known provider serves (`gra` for https://s3.gra.cloud.ovh.net)."""
    domain = s3_domain(endpoint)
    match = domain.host.match(_host(endpoint)) if domain else None
    return match.group("region") if match else None


class ObjectStorageConfig(StrictModel):
    """Where the stack's containers live and how they are reached: one explicit choice per stack.

    `api` names the product and with it the credential: `swift-s3api` is Swift containers in the
    object store's `region`, reached over S3 at `endpoint` with a Keystone EC2 credential, requests
    signed for `signing_region`. Consistency across these keys (and with `cloud.region`) is checked
    once the whole config is read (`_check_object_storage`).
    """

    api: str = Field(description=f"The product: one of {', '.join(OBJECT_STORAGE_APIS)}.")
    region: str = Field(
        min_length=1, description="Region of the object store holding the containers (OVH: GRA, not GRA9)."
    )
    endpoint: str = Field(
        pattern=r"^https://[^/\s]+/?$",
        description="S3 API in front of those containers (OVH: https://s3.<swift-region>.cloud.ovh.net).",
    )
    signing_region: str = Field(
        min_length=1, description="Region S3 requests are signed for (AWS_DEFAULT_REGION), e.g. gra."
    )

    @field_validator("api")
    @classmethod
    def _provisioned(cls, api: str) -> str:
        if api not in OBJECT_STORAGE_APIS:
            raise ValueError(
                f"{api!r} is not an object storage the program provisions: it creates Swift containers "
                "and a Keystone EC2 credential, which only Swift's S3 API serves (api: swift-s3api); "
                "a separate S3 product has its own buckets and users"
            )
        return api

    @field_validator("endpoint")
    @classmethod
    def _swift_s3_api(cls, endpoint: str) -> str:
        """The stack's containers are Swift containers reached with EC2 credentials; OVH's separate
        S3 Object Storage (`*.io.cloud.ovh.net`) serves neither: nothing would be found there."""
        host = _host(endpoint)
        if host.endswith(OVH_NATIVE_S3):
            raise ValueError(
                f"{endpoint} is OVH's S3 Object Storage (its own buckets and users), not the S3 API of "
                "the stack's Swift containers: use https://s3.<swift-region>.cloud.ovh.net"
            )
        domain = s3_domain(endpoint)
        if domain is not None and not domain.host.match(host):
            raise ValueError(f"{endpoint} is not {domain.provider}'s S3 endpoint ({domain.template})")
        return endpoint


class CloudConfig(StrictModel):
    """Where the stack runs; every cloud difference is a value here, never a branch in code."""

    name: str = Field(description="Short cloud label used in resource names and tags, e.g. 'ovh'.")
    region: str = Field(description="OpenStack region, e.g. GRA9 or WAW3-1.")
    external_network: str = Field(description="Name of the provider's external (public) network.")
    image: str = Field(min_length=1, description="Default image name for nodes, e.g. 'Ubuntu 22.04'.")
    object_storage: ObjectStorageConfig = Field(description="The stack's object storage (containers).")
    eodata: EodataConfig | None = Field(default=None, description="EO data archive and its mount, if any.")


class RoleNetwork(StrictModel):
    """One private network: its subnet and whether it is routed to the external network."""

    cidr: str
    routed: bool = Field(
        default=True,
        description="Routed subnets get a gateway on the router; unrouted ones are private links "
        "without a gateway (so a second NIC never adds a second default route).",
    )

    @field_validator("cidr")
    @classmethod
    def _private_cidr(cls, cidr: str) -> str:
        try:
            net = ipaddress.ip_network(cidr)
        except ValueError as exc:
            raise ValueError(f"{cidr!r} is not a CIDR") from exc
        if not net.is_private:
            raise ValueError(f"{cidr} is not a private range")
        return cidr


class Roles(StrictModel):
    """The four role networks; their CIDRs must not overlap."""

    swarm: RoleNetwork
    hopsworks: RoleNetwork
    data: RoleNetwork
    interlink: RoleNetwork


class NetworkConfig(StrictModel):
    """Private networks, one per role, each with its own CIDR."""

    dns_servers: list[str] = Field(min_length=1, description="Resolvers handed out by every subnet.")
    roles: Roles
    mtu: int = Field(
        default=DEFAULT_MTU,
        ge=1280,
        le=9000,
        description="MTU the cloud gives the role networks (`openstack network show -c mtu`; VXLAN "
        "tenant networks: 1450). Docker's overlay networks get this less the VXLAN header.",
    )

    @field_validator("roles")
    @classmethod
    def _disjoint(cls, roles: Roles) -> Roles:
        seen: dict[str, Any] = {}
        for role in ROLES:
            net = ipaddress.ip_network(getattr(roles, role).cidr)
            for other, other_net in seen.items():
                if net.overlaps(other_net):
                    raise ValueError(f"{role}: {net} overlaps {other} ({other_net})")
            seen[role] = net
        return roles

    def cidr(self, role: str) -> str:
        return getattr(self.roles, role).cidr


class AccessConfig(StrictModel):
    """Who may reach the nodes over SSH."""

    ssh_user: str = Field(default="ubuntu", pattern=r"^[a-z_][a-z0-9_-]*$")
    ssh_allowed_cidrs: list[str] = Field(
        min_length=1, description="CIDRs allowed to SSH to the gateway (bastion); never 0.0.0.0/0."
    )
    authorized_keys: list[str] = Field(
        default_factory=list, description="Operators' public keys (also used by the docker provider)."
    )

    @field_validator("ssh_allowed_cidrs")
    @classmethod
    def _narrow(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            try:
                net = ipaddress.ip_network(cidr)
            except ValueError as exc:
                raise ValueError(f"{cidr!r} is not a CIDR") from exc
            if net.prefixlen == 0:
                raise ValueError(f"{cidr} would open SSH to the whole internet")
        return cidrs

    @field_validator("authorized_keys")
    @classmethod
    def _keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not key.startswith(("ssh-", "ecdsa-")):
                raise ValueError(f"{key[:20]!r}... is not an OpenSSH public key")
        return keys


class NodeSpec(StrictModel):
    """How one kind of node is built: flavor, image, extra volume, networks, mounts."""

    flavor: str = Field(min_length=1, description="OpenStack flavor name, e.g. b2-7 or eo1.large.")
    image: str | None = Field(default=None, description="Image name; defaults to cloud.image.")
    volume_size_gb: int = Field(default=0, ge=0, description="Extra data volume (0: none).")
    networks: list[str] = Field(
        min_length=1, description="Role networks, first one primary (routed); others unrouted links."
    )
    eodata: bool = Field(default=False, description="Attach the EO data network and mount it.")
    nvidia_driver: bool = Field(default=False, description="Install the NVIDIA driver at first boot.")

    @field_validator("networks")
    @classmethod
    def _known_roles(cls, networks: list[str]) -> list[str]:
        for role in networks:
            if role not in ROLES:
                raise ValueError(f"unknown network role {role!r} (expected one of {', '.join(ROLES)})")
        if len(set(networks)) != len(networks):
            raise ValueError("a network role is listed twice")
        return networks


class PoolConfig(NodeSpec):
    """A pool of identical nodes; `count` is the one line to change to scale."""

    count: int = Field(ge=0)
    labels: dict[str, str] = Field(default_factory=dict, description="Swarm node labels for placement.")


class ManagerPoolConfig(PoolConfig):
    """Swarm managers: Raft needs an odd number (1, 3, 5...) to keep a majority."""

    count: int = Field(ge=1)

    @field_validator("count")
    @classmethod
    def _odd(cls, count: int) -> int:
        if count % 2 == 0:
            raise ValueError(f"swarm managers must be an odd number (Raft quorum), got {count}")
        return count


class SwarmConfig(StrictModel):
    """Docker Swarm: managers (also the gateway nodes) and workers."""

    managers: ManagerPoolConfig
    workers: PoolConfig


class HopsworksConfig(StrictModel):
    """Hopsworks: a head node, on-prem workers and an on-demand GPU pool (count may be 0)."""

    installer_url: str = Field(pattern=r"^https://", description="URL of hopsworks-installer.sh.")
    head: NodeSpec
    workers: PoolConfig
    gpu_workers: PoolConfig


class StorageConfig(StrictModel):
    """Swift containers for cubes; names are prefixed with project and stack."""

    public_container: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")
    private_containers: list[str] = Field(min_length=1)

    @field_validator("private_containers")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name or not all(c.isalnum() or c == "-" for c in name) or name != name.lower():
                raise ValueError(f"{name!r} is not a valid container name (lowercase, digits, '-')")
        return names


class DnsConfig(StrictModel):
    """The zone holding the names the gateway serves; which names is not configured here: they are
    exactly the gateway's site addresses (so every certificate Caddy asks for can be issued)."""

    domain: str = Field(pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$", description="The DNS zone, e.g. example.eu.")
    provider: Literal["manual", "designate"] = Field(
        default="manual",
        description="designate: the cloud's DNS service (OpenStack Designate) holds the zone and the "
        "program creates its records; manual: the operator creates the exported `dns_names` records.",
    )
    zone_email: str | None = Field(
        default=None, pattern=r"^[^@\s]+@[^@\s]+$", description="Zone contact (SOA), for designate."
    )
    ttl: int = Field(default=300, ge=60, description="TTL of the records the program creates.")


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


class ConfigError(ValueError):
    """A stack config value is missing or invalid; the message names the YAML key."""


def _dotted(location: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in location)


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


MOVED_KEYS = {
    "cloud.s3_endpoint": "cloud.object_storage.endpoint",
    "cloud.storage_region": "cloud.object_storage.region",
    "cloud.s3_region": "cloud.object_storage.signing_region",
}
"""Keys that moved: a stack file still using the old name is told where the value goes now."""


def _field_names(model: type[BaseModel], location: tuple[Any, ...]) -> list[str]:
    """The keys the model accepts at `location` (a dotted path into nested models and lists)."""
    for part in location:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        nested = [t for t in (field.annotation, *_type_args(field.annotation)) if _is_model(t)]
        if not nested:
            return []
        model = nested[0]
    return list(model.model_fields)


def _type_args(annotation: Any) -> list[Any]:
    args = list(typing.get_args(annotation))
    return args + [inner for arg in args for inner in _type_args(arg)]


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def describe_error(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line naming the YAML key at fault.

    A misspelt key shows up twice (the unknown key, and the real one as missing): the unknown key is
    reported first, with the closest accepted key as a hint and the missing key beside it.
    """
    errors = exc.errors()
    unknown = [error for error in errors if error["type"] == "extra_forbidden"]
    if not unknown:
        first = errors[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        return f"Invalid configuration: {message} for {_dotted(first['loc'])}"
    *parent, key = unknown[0]["loc"]
    moved = MOVED_KEYS.get(_dotted((*parent, key)))
    if moved is not None:
        return f"Invalid configuration: unknown key {key} (moved to {moved}) for {_dotted(tuple(parent))}"
    missing = [
        str(error["loc"][-1])
        for error in errors
        if error["type"] == "missing" and list(error["loc"][:-1]) == parent
    ]
    close = did_you_mean(str(key), missing) or did_you_mean(str(key), _field_names(model, tuple(parent)))
    hint = f" (did you mean {close}?)" if close else ""
    others = [name for name in missing if name != close]
    also = f"; missing: {', '.join(others)}" if others else ""
    where = _dotted(tuple(parent)) or "the stack config"
    return f"Invalid configuration: unknown key {key}{hint}{also} for {where}"


def from_mapping(
    project: str, stack: str, sections: dict[str, Any], secret_stand_ins: Collection[str] = ()
) -> PlatformConfig:
    """Validate plain values (as read from YAML) into the model; errors name the dotted key.

    `secret_stand_ins` are the offline placeholders of `--secret` values, excused from string
    patterns they cannot meet (see `infra.stack_files.accept_secret_stand_in`).
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
