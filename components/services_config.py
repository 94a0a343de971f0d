"""The platform services' part of the stack config, as typed models: stack key
`deepcube-platform:services`.

One typed model per module (gateway, identity, monitoring, logs, portainer, data, social_media), each
with `enabled` and its pinned images. Defaults are the versions this repository was tested with; a
stack overrides only what differs. Unknown keys are errors (a misspelt `enabeld` must not deploy
something else), and images must be pinned (no `latest`), checked here so the error names the key.
Secrets never live here: passwords are generated (`pulumi_random`), and the few external secrets
(registry password, social-media API keys) are passed separately as Pulumi secrets.

The models live with the components that read them (the catalogue, `components.platform_services`);
`infra.services_config` parses the stack's YAML value into them with errors that name the key.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from components.secret_stand_ins import StrictModel, narrow_cidrs
from components.service_spec import SpecError, check_pinned_image


def _pinned(value: str) -> str:
    try:
        return check_pinned_image(value, service="image")
    except SpecError as exc:
        raise ValueError(str(exc).removeprefix("image: ")) from None


Image = str


class _Module(StrictModel):
    enabled: bool = True

    @field_validator("*", mode="after")
    @classmethod
    def _images_are_pinned(cls, value: Any, info: Any) -> Any:
        if info.field_name.endswith("image") and isinstance(value, str):
            return _pinned(value)
        return value


class GatewayConfig(_Module):
    """Caddy (HTTPS, routing, homepage) and Traefik (TCP to PostGIS for authorised clients)."""

    caddy_image: Image = "caddy:2.11.7-alpine"
    traefik_image: Image = "traefik:v3.1.6"
    postgis_clients: list[str] = Field(
        default_factory=list, description="CIDRs allowed to reach PostGIS via Traefik."
    )
    postgis_port: int = 5432

    @field_validator("enabled")
    @classmethod
    def _always_on(cls, enabled: bool) -> bool:
        if not enabled:
            raise ValueError("the gateway cannot be disabled: every other module is reached through it")
        return enabled

    @field_validator("postgis_clients")
    @classmethod
    def _cidrs(cls, cidrs: list[str]) -> list[str]:
        return narrow_cidrs(cidrs, "PostGIS")


class IdentityConfig(_Module):
    """ORY Kratos (users, sessions), the gatekeeper (role check) and Hydra (OAuth2/OIDC), with their
    PostgreSQL. The SMTP connection URI is not here: it may hold a password, so it is the Pulumi
    secret `smtp_uri`."""

    kratos_image: Image = "oryd/kratos:v1.2.0"
    kratos_ui_image: Image = "oryd/kratos-selfservice-ui-node:v1.2.0"
    hydra_image: Image = "oryd/hydra:v2.2.0"
    postgres_image: Image = "postgres:16.4-alpine"
    gatekeeper_image: Image = Field(
        default="python:3.12.7-alpine3.20",
        description="Stock Python image that runs the gatekeeper program (standard library only).",
    )
    mail_from: str | None = Field(
        default=None,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="Sender of invite and recovery mails; default no-reply@<domain>.",
    )

    @model_validator(mode="before")
    @classmethod
    def _smtp_is_a_secret(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "smtp_uri" in raw:
            raise ValueError(
                "smtp_uri may hold a password, so it is the stack secret smtp_uri, not a services key: "
                "`pulumi config set --secret smtp_uri 'smtps://USER:PASSWORD@HOST:465/'`"
            )
        return raw


class MonitoringConfig(_Module):
    prometheus_image: Image = "prom/prometheus:v2.54.1"
    grafana_image: Image = "grafana/grafana:11.2.2"
    node_exporter_image: Image = "prom/node-exporter:v1.8.2"
    cadvisor_image: Image = "gcr.io/cadvisor/cadvisor:v0.49.1"
    retention: str = "15d"
    scrape_interval: str = "30s"


class LogsConfig(_Module):
    opensearch_image: Image = "opensearchproject/opensearch:2.17.1"
    dashboards_image: Image = "opensearchproject/opensearch-dashboards:2.17.1"
    logstash_image: Image = "opensearchproject/logstash-oss-with-opensearch-output-plugin:8.9.0"
    filebeat_image: Image = "docker.elastic.co/beats/filebeat-oss:8.15.2"
    heap_mb: int = Field(default=1024, ge=512)


class PortainerConfig(_Module):
    server_image: Image = "portainer/portainer-ce:2.21.4"
    agent_image: Image = "portainer/agent:2.21.4"


class CubeRef(StrictModel):
    """One cube the semantic loader puts into PostGIS and Ontop serves."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    container: str | None = Field(
        default=None,
        description="One of the stack's containers (storage.public_container or a private one) holding "
        "the cube at `path`; infra turns it into the container's real s3:// URI.",
    )
    path: str | None = Field(default=None, description="The cube's Zarr folder inside `container`.")
    eodata: str | None = Field(
        default=None, description="The cube's Zarr folder under the EODATA mount (read-only), instead."
    )

    @field_validator("path", "eodata")
    @classmethod
    def _relative(cls, path: str | None) -> str | None:
        if path is not None and (
            not path or path.startswith("/") or "://" in path or ".." in path.split("/")
        ):
            raise ValueError(f"{path!r} must be a relative path (no leading '/', no '..', no scheme)")
        return path

    @model_validator(mode="after")
    def _one_location(self) -> CubeRef:
        if (self.container is None) == (self.eodata is None):
            raise ValueError("give either container and path (a stack container) or eodata (under EODATA)")
        if (self.container is None) != (self.path is None):
            raise ValueError("container and path go together")
        return self


class DataConfig(_Module):
    """Cube engine (JupyterLab + Dask), PostGIS, the semantic loader, Ontop and Sextant."""

    cube_engine_image: Image | None = Field(
        default=None,
        description="Pinned image; None builds docker/cube-engine and pushes it to the registry.",
    )
    semantic_image: Image | None = None
    postgis_image: Image = "postgis/postgis:16-3.4"
    ontop_image: Image = "ontop/ontop:5.4.0"
    hub_proxy_image: Image = Field(
        default="quay.io/jupyterhub/configurable-http-proxy:4.6.2",
        description="JupyterHub's proxy (configurable-http-proxy), run as its own service.",
    )
    sextant_image: Image | None = Field(
        default=None, description="Sextant web image (set it to enable Sextant)."
    )
    dask_workers: int = Field(default=2, ge=0)
    dask_worker_threads: int = Field(default=2, ge=1)
    dask_worker_memory_mb: int = Field(default=4096, ge=512)
    cubes: list[CubeRef] = Field(default_factory=list)

    @field_validator("ontop_image")
    @classmethod
    def _ontop_5_4(cls, image: str) -> str:
        match = re.search(r":(\d+)\.(\d+)", image)
        if "@sha256:" not in image and (match is None or (int(match[1]), int(match[2])) < (5, 4)):
            raise ValueError(f"Ontop 5.4 or later is required for GeoSPARQL, found {image!r}")
        return image


class SocialMediaConfig(_Module):
    """The social-media API: two images, e.g. the HTTP API and its harvester worker."""

    enabled: bool = False
    api_image: Image | None = None
    worker_image: Image | None = None
    api_port: int = 8000
    secret_keys: list[str] = Field(
        default_factory=list, description="Names of external Pulumi secrets mounted into both containers."
    )

    @model_validator(mode="after")
    def _images_when_enabled(self) -> SocialMediaConfig:
        if self.enabled and not (self.api_image and self.worker_image):
            raise ValueError("api_image and worker_image are required when social_media is enabled")
        return self


class RegistryConfig(StrictModel):
    """Where the repository's own images are pushed (the password is a separate Pulumi secret)."""

    server: str = Field(description="Registry host, e.g. registry.example.org or ghcr.io.")
    namespace: str = Field(description="Path under the host, e.g. deepcube.")
    username: str | None = None
    tag: str = Field(default="0.1.0", description="Version tag of the images built from this repository.")

    @field_validator("tag")
    @classmethod
    def _tag_is_a_version(cls, tag: str) -> str:
        _pinned(f"x:{tag}")
        return tag


class ServicesConfig(StrictModel):
    """Every platform service module; `deepcube-platform:services` in the stack YAML."""

    domain: str = Field(
        max_length=253,
        pattern=r"^([a-z0-9-]{1,63}\.)+[a-z]{2,63}$",
        description="The platform's DNS name; Caddy obtains its certificate automatically.",
    )
    acme_email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    registry: RegistryConfig | None = None
    gateway: GatewayConfig = GatewayConfig()
    identity: IdentityConfig = IdentityConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    logs: LogsConfig = LogsConfig()
    portainer: PortainerConfig = PortainerConfig()
    data: DataConfig = DataConfig()
    social_media: SocialMediaConfig = SocialMediaConfig()

    @model_validator(mode="after")
    def _consistent(self) -> ServicesConfig:
        admin = [m for m in ("monitoring", "logs", "portainer") if getattr(self, m).enabled]
        if admin and not self.identity.enabled:
            raise ValueError(f"identity must be enabled to protect the admin UIs of {', '.join(admin)}")
        if (
            self.data.enabled
            and self.registry is None
            and not (self.data.cube_engine_image and self.data.semantic_image)
        ):
            raise ValueError(
                "data needs a registry to push the built images, or pinned cube_engine_image "
                "and semantic_image"
            )
        return self
