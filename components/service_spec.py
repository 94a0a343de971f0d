"""One Swarm service as a value (`ServiceSpec`) and the value types it is made of.

Every platform service (gateway, identity, monitoring, logs, Portainer, data, social media) is a
`ServiceSpec`: plain, frozen data that the catalogue builds, and that tests, the plan's invariants
and the services config check, without Pulumi. The platform's rules for a service (a pinned image,
limits and reservations, a healthcheck or the reason for none, placement, routes and the roles that
may open them) are checked when a spec is made, so a spec that exists is one the platform accepts.
`components.service.SwarmService` turns a spec into docker resources.

A `job` runs once to completion (see `components.service` for how Swarm is made to do that).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from components.oidc import OidcClient
from components.roles import ADMIN_ONLY, unknown_roles


class Deferred(Protocol):
    """A value known only at deploy time (a `pulumi.Output`, e.g. an address or an image built and
    pushed by the stack): a spec holds it as it is, and the component hands it to the resource."""

    def apply(self, func: Callable[[Any], Any]) -> Any: ...


Mode = Literal["replicated", "global", "job"]
Exposure = Literal["admin-api", "admin-ui"]
Workload = Literal["user"]

EXPOSES_LABEL = "deepcube.exposes"
"""Service label: `admin-api` (an API that administers the platform: Kratos/Hydra admin, a database
of credentials, the Docker engine) or `admin-ui` (an admin module behind the gateway)."""
WORKLOAD_LABEL = "deepcube.workload"
"""Service label: `user` when the service runs code that users write (notebooks, Dask tasks)."""
ROUTE_ROLES_LABEL = "deepcube.route.roles"
"""Service label: the roles that may open its gateway route, comma-separated, or `public`."""
OIDC_CLIENT_LABEL = "deepcube.oidc.client"
"""Service label: the id of the OAuth2 client the module signs its users in with (see components.oidc)."""

_DIGEST = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
_TAGGED = re.compile(r"^(?P<repo>[^@\s]+):(?P<tag>[\w][\w.-]{0,127})$")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
HOST_SYSCTL_LABEL = "deepcube.host-sysctl."
"""Service label prefix: `deepcube.host-sysctl.vm.max_map_count=262144` (read by the plan's invariants)."""


class SpecError(ValueError):
    """A ServiceSpec breaks a platform rule; the message names the service and the field."""


def check_pinned_image(image: str, *, service: str = "?") -> str:
    """An image must name a version tag or a sha256 digest: `latest` or no tag drifts silently."""
    if _DIGEST.match(image):
        return image
    match = _TAGGED.match(image)
    if match is None or "/" in match.group("tag"):
        raise SpecError(
            f"{service}: image {image!r} is not pinned; expected repo:VERSION or repo@sha256:DIGEST"
        )
    if match.group("tag").lower() in {"latest", "stable", "edge", "main", "master"}:
        raise SpecError(f"{service}: image {image!r} uses a moving tag; pin a version or a digest")
    return image


SWARM_OBJECT_NAME_MAX = 64
"""Swarm refuses config and secret names longer than this (and any not of [a-zA-Z0-9-_.])."""
KEY_MAX = 24
"""Room for the key in a content name: `<project>-<stack>` up to 26 characters, the key, the hash."""


def _short(text: str, room: int) -> str:
    """`text`, or its first characters and a short hash of all of it when it is longer than `room`
    (two long texts that start alike still differ)."""
    if len(text) <= room:
        return text
    tag = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"{text[: room - len(tag) - 1].rstrip('-_.')}-{tag}"


def content_name(prefix: str, key: str, content: str | bytes, length: int = 12) -> str:
    """`<prefix>-<key>-<sha256 of content>`: Swarm configs and secrets are immutable, so a changed
    content must get a new name.

    Swarm allows 64 characters. A long key is shortened the same way in every stack (so two stacks'
    plans differ only by their prefix); a prefix too long for what is left is shortened too.
    """
    data = content.encode() if isinstance(content, str) else content
    digest = hashlib.sha256(data).hexdigest()[:length]
    short_key = _short(key, KEY_MAX)
    head = _short(prefix, SWARM_OBJECT_NAME_MAX - len(short_key) - length - 2)
    return f"{head}-{short_key}-{digest}"


@dataclass(frozen=True)
class Port:
    """A port published on the swarm; only the gateway should have any."""

    target: int
    published: int
    protocol: Literal["tcp", "udp"] = "tcp"
    mode: Literal["ingress", "host"] = "host"


@dataclass(frozen=True)
class ConfigFile:
    """A file rendered at plan time and mounted from an immutable, content-named Swarm config."""

    key: str
    target: str
    content: str
    mode: int = 0o444


@dataclass(frozen=True)
class SecretFile:
    """A Swarm secret (created once by the platform, named by content) mounted under /run/secrets."""

    key: str
    target: str


@dataclass(frozen=True)
class Mount:
    """A named volume (node-local: pair it with a placement constraint) or a host bind mount."""

    source: str
    target: str
    type: Literal["volume", "bind"] = "volume"
    read_only: bool = False


@dataclass(frozen=True)
class Resources:
    """CPU in cores and memory in MiB; every service has both limits and reservations."""

    cpu_limit: float
    memory_limit_mb: int
    cpu_reservation: float = 0.05
    memory_reservation_mb: int = 32

    def __post_init__(self) -> None:
        if not (
            0 < self.cpu_reservation <= self.cpu_limit
            and 0 < self.memory_reservation_mb <= self.memory_limit_mb
        ):
            raise SpecError(f"reservations must be positive and within limits: {self}")


@dataclass(frozen=True)
class Healthcheck:
    """Docker healthcheck; `test` is the full Docker form, e.g. ("CMD-SHELL", "wget -q ...")."""

    test: tuple[str, ...]
    interval: str = "30s"
    timeout: str = "5s"
    retries: int = 3
    start_period: str = "30s"


@dataclass(frozen=True)
class UpdatePolicy:
    """How Swarm rolls out a change; `order="stop-first"` for services that lock a volume."""

    parallelism: int = 1
    delay: str = "10s"
    order: Literal["start-first", "stop-first"] = "start-first"
    failure_action: Literal["rollback", "pause", "continue"] = "rollback"
    monitor: str = "30s"


STOP_FIRST = UpdatePolicy(order="stop-first")


@dataclass(frozen=True)
class HttpRoute:
    """How the gateway reaches a web module: path prefix on the stack's domain, upstream port."""

    path: str
    port: int
    protected: bool = True
    strip_prefix: bool = False
    roles: tuple[str, ...] = ()
    """Roles that may open a protected route (see `components.roles`); a public route has none."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"/[a-z0-9][a-z0-9/_-]*[a-z0-9]", self.path):
            raise SpecError(f"route path {self.path!r} must look like /name (no trailing slash)")
        if self.protected and not self.roles:
            raise SpecError(f"protected route {self.path} names no role that may open it")
        if not self.protected and self.roles:
            raise SpecError(f"public route {self.path} names roles {self.roles}; protect it or drop them")
        if unknown_roles(self.roles):
            raise SpecError(f"route {self.path}: unknown roles {unknown_roles(self.roles)}")


@dataclass(frozen=True)
class HomepageEntry:
    """What the homepage shows for a module; the link is the service's route path."""

    title: str
    description: str
    icon: str
    """A 1-3 letter monogram drawn as a badge (no icon font or emoji font needed on the client)."""
    group: str
    status_path: str | None = None
    link_suffix: str = ""
    """Appended to the route path for the card's main link, e.g. `.well-known/openid-configuration`."""


@dataclass(frozen=True)
class Metrics:
    """Where Prometheus scrapes this service (via dockerswarm_sd on the monitoring network)."""

    port: int
    path: str = "/metrics"


@dataclass(frozen=True)
class ServiceSpec:
    """Everything that defines one Swarm service, as a value; see the module docstring."""

    name: str
    image: str | Deferred
    resources: Resources
    networks: tuple[str, ...]
    healthcheck: Healthcheck | None = None
    no_healthcheck_reason: str | None = None
    mode: Mode = "replicated"
    replicas: int = 1
    constraints: tuple[str, ...] = ()
    ports: tuple[Port, ...] = ()
    env: Mapping[str, str | Deferred] = field(default_factory=dict)
    """Plain values, or outputs of other resources (e.g. an address), never credentials."""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    user: str | None = None
    configs: tuple[ConfigFile, ...] = ()
    secrets: tuple[SecretFile, ...] = ()
    mounts: tuple[Mount, ...] = ()
    update: UpdatePolicy = UpdatePolicy()
    route: HttpRoute | None = None
    homepage: HomepageEntry | None = None
    metrics: Metrics | None = None
    after: tuple[str, ...] = ()
    job_attempts: int = 5
    secret_uid: str = "0"
    """Owner of the mounted secret files (mode 0400): the user the image runs as must read them."""
    host_sysctls: Mapping[str, int] = field(default_factory=dict)
    """Kernel parameters the service needs on its node, at least these values (e.g. OpenSearch's
    `vm.max_map_count`): not settable from a container, so the node's cloud-init must set them."""
    exposes: Exposure | None = None
    """What an attacker on the service's networks could administer (see EXPOSES_LABEL): such
    services must share no network with a user workload."""
    workload: Workload | None = None
    """`user` when the service runs user code (see WORKLOAD_LABEL)."""
    oidc_client: OidcClient | None = None
    """The module's OpenID Connect client in Hydra (registered by the identity group's job); its
    secret must be among `secrets` so the module can read it."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise SpecError(f"service name {self.name!r} must be lower-case letters, digits and dashes")
        if isinstance(self.image, str):
            check_pinned_image(self.image, service=self.name)
        if (self.healthcheck is None) == (self.no_healthcheck_reason is None):
            raise SpecError(f"{self.name}: give exactly one of healthcheck or no_healthcheck_reason")
        if self.mode == "global" and self.replicas != 1:
            raise SpecError(f"{self.name}: global services have no replica count")
        if self.mode == "job" and (self.replicas != 1 or self.ports or self.route):
            raise SpecError(f"{self.name}: a job runs once, with no ports or route")
        if not self.constraints:
            raise SpecError(f"{self.name}: placement constraints are required (node.role or node.labels)")
        if not self.networks:
            raise SpecError(f"{self.name}: at least one network is required")
        if self.homepage is not None and not re.fullmatch(r"[A-Z0-9]{1,3}", self.homepage.icon):
            raise SpecError(
                f"{self.name}: homepage icon must be a 1-3 letter monogram, got {self.homepage.icon!r}"
            )
        if self.homepage is not None and self.route is None:
            raise SpecError(f"{self.name}: a homepage entry needs a route to link to")
        if self.exposes == "admin-ui" and (self.route is None or self.route.roles != ADMIN_ONLY):
            raise SpecError(f"{self.name}: an admin UI is a protected route for the roles {ADMIN_ONLY}")
        if self.exposes is not None and self.workload is not None:
            raise SpecError(f"{self.name}: a user workload cannot also expose an {self.exposes}")
        keys = [c.key for c in self.configs]
        if len(set(keys)) != len(keys):
            raise SpecError(f"{self.name}: duplicate config keys {keys}")
        if self.oidc_client is not None:
            if self.oidc_client.machine:
                raise SpecError(f"{self.name}: a module signs people in; machine clients are not modules")
            if self.oidc_client.secret_key not in {s.key for s in self.secrets}:
                raise SpecError(f"{self.name}: mount the client secret {self.oidc_client.secret_key}")


def service_labels(spec: ServiceSpec) -> dict[str, str]:
    """Labels read by Prometheus' dockerswarm_sd relabelling, by operators and by the plan's policies."""
    labels = {"deepcube.service": spec.name, "deepcube.mode": spec.mode}
    for key, minimum in sorted(spec.host_sysctls.items()):
        labels[f"{HOST_SYSCTL_LABEL}{key}"] = str(minimum)
    if spec.exposes is not None:
        labels[EXPOSES_LABEL] = spec.exposes
    if spec.workload is not None:
        labels[WORKLOAD_LABEL] = spec.workload
    if spec.route is not None:
        labels[ROUTE_ROLES_LABEL] = ",".join(spec.route.roles) or "public"
    if spec.oidc_client is not None:
        labels[OIDC_CLIENT_LABEL] = spec.oidc_client.client_id
    if spec.metrics is not None:
        labels["prometheus.job"] = spec.name
        labels["prometheus.port"] = str(spec.metrics.port)
        labels["prometheus.path"] = spec.metrics.path
    return labels
