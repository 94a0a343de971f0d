"""What every catalogue group shares: the build context, placement and healthcheck helpers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from components.data_access import DataAccess
from components.placement import Placement
from components.service_spec import Healthcheck
from components.services_config import ServicesConfig

MANAGER = "node.role==manager"
DATA = "node.labels.role==data"
LINUX = "node.platform.os==linux"

NETWORKS = ("edge", "identity", "admin", "monitoring", "logs", "portainer", "data", "social")
"""Overlay networks, one per concern."""

GATEWAY_NETWORKS = ("edge", "identity", "admin")
"""The networks the gateway joins to reach web modules, each routed service joining exactly one:
`edge` for the user modules (where user code runs), `identity` for the identity services (their
admin APIs included), `admin` for the admin modules. User code therefore never shares a network
with an admin API or an admin UI; it reaches them only through the gateway, which checks roles."""

ADMIN_SERVICES = ("portainer", "grafana", "prometheus", "opensearch-dashboards")
"""Admin UIs: reachable only through the gateway, behind identity; never on a host port."""


HOPSWORKS_PORT = 8181
"""The Hopsworks head's HTTPS listener (its application server: UI and REST API)."""


@dataclass(frozen=True)
class HopsworksLink:
    """How the swarm reaches the Hopsworks head: the gateway over the interlink network (its UI and
    REST API under /hopsworks), Jupyter and Dask over the data network (the `hopsworks` client)."""

    gateway_upstream: str | pulumi.Output[str]
    """`https://<head's interlink address>:<port>`, for the gateway's reverse proxy."""
    data_host: str | pulumi.Output[str]
    """The head's address on the data network, handed to the data services as HOPSWORKS_HOST."""
    port: int = HOPSWORKS_PORT


@dataclass(frozen=True)
class Context:
    """Inputs every group's `specs()` needs; plain values, no resources."""

    prefix: str
    config: ServicesConfig
    placement: Placement
    """Constraints of the public node and of the nodes holding named volumes (see components.placement)."""
    images: Mapping[str, str | pulumi.Output[str]] = field(default_factory=dict)
    """Images built from this repository: `cube-engine`, `semantic` (digest-pinned outputs)."""
    hopsworks: HopsworksLink | None = None
    """The Hopsworks head, when the stack has one."""
    data_access: DataAccess | None = None
    """How the data services reach S3 and EODATA, and where the cubes are (resolved by `infra`)."""

    @property
    def base_url(self) -> str:
        return f"https://{self.config.domain}"

    def network(self, logical: str) -> str:
        """The Swarm name of an overlay network (as created by PlatformServices)."""
        return f"{self.prefix}-{logical}"

    def volume(self, logical: str) -> str:
        return f"{self.prefix}-{logical}"

    def image(self, key: str, configured: str | None) -> str | pulumi.Output[str]:
        if configured:
            return configured
        if key not in self.images:
            raise KeyError(f"no image {key!r}: configure it or let PlatformServices build it")
        return self.images[key]


def http_check(url: str, tool: str = "wget") -> Healthcheck:
    """An HTTP healthcheck with the client the image ships (busybox wget or curl)."""
    command = f"wget -q -O /dev/null {url}" if tool == "wget" else f"curl -fsS -o /dev/null {url}"
    return Healthcheck(test=("CMD-SHELL", command))


def python_http_check(url: str) -> Healthcheck:
    """For Python images without wget/curl."""
    code = f"import urllib.request; urllib.request.urlopen('{url}', timeout=4)"
    return Healthcheck(test=("CMD", "python", "-c", code))


def secret_env_script(exports: Mapping[str, str], then: str, before: str = "") -> tuple[str, ...]:
    """`sh -c` that exports variables built from /run/secrets files, then execs the real command.

    Some images (Kratos, Hydra, the login UI) read secrets only from the environment; exporting them
    at start keeps them out of the service definition (`docker service inspect` shows no secret).
    """
    lines = [f'export {name}="{value}"' for name, value in exports.items()]
    return ("/bin/sh", "-c", before + "; ".join([*lines, f"exec {then}"]))
