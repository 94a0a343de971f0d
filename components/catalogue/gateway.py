"""The gateway: Caddy (automatic HTTPS, path routes to every web module, the homepage) and, when
authorised client networks are configured, Traefik for TCP to PostGIS.

It is built last, from the other groups' specs: their routes become the Caddyfile and their homepage
entries the page, so the gateway can never route to a module that is not deployed.
"""

from __future__ import annotations

from collections.abc import Sequence

from components.catalogue import gatekeeper
from components.catalogue.common import GATEWAY_NETWORKS, Context, http_check
from components.catalogue.hub import USE_CASES
from components.homepage import Card, cards_from_specs, render_homepage
from components.render.caddyfile import AuthGate, CaddySite, Route, render_caddyfile
from components.render.jupyterhub import BASE_PATH
from components.render.traefik import render_traefik_tcp
from components.roles import USER_MODULE
from components.service_spec import (
    STOP_FIRST,
    ConfigFile,
    Healthcheck,
    Metrics,
    Mount,
    Port,
    Resources,
    ServiceSpec,
    SpecError,
)

HOMEPAGE_ROOT = "/srv/homepage"
CADDY_METRICS_PORT = 9180


def caddy_routes(specs: Sequence[ServiceSpec]) -> list[Route]:
    """One gateway route per spec that declares one; upstreams are the services' network aliases."""
    return [
        Route(
            path=s.route.path,
            upstream=f"{s.name}:{s.route.port}",
            protected=s.route.protected,
            strip_prefix=s.route.strip_prefix,
            roles=s.route.roles,
        )
        for s in specs
        if s.route is not None
    ]


def caddy_networks(specs: Sequence[ServiceSpec], monitored: bool) -> tuple[str, ...]:
    """The gateway networks of the routed services (each on exactly one), and `monitoring` to be scraped."""
    joined = set()
    for s in specs:
        if s.route is None:
            continue
        front = [n for n in s.networks if n in GATEWAY_NETWORKS]
        if len(front) != 1:
            raise SpecError(f"{s.name}: a routed service joins one of {GATEWAY_NETWORKS}, not {front}")
        joined.update(front)
    return tuple(n for n in GATEWAY_NETWORKS if n in joined) + (("monitoring",) if monitored else ())


HOPSWORKS_UPSTREAM_ENV = "HOPSWORKS_UPSTREAM"
HOPSWORKS_PATHS = ("/hopsworks", "/hopsworks-api")
"""Hopsworks serves its UI and REST API under these prefixes itself: proxied without stripping."""


def hopsworks_routes(ctx: Context) -> list[Route]:
    """The Hopsworks UI and API through the gateway; the head's address reaches Caddy as an
    environment variable (it is known only once the head exists), read when Caddy loads its config."""
    if ctx.hopsworks is None:
        return []
    return [
        Route(
            path=path,
            upstream=f"{{${HOPSWORKS_UPSTREAM_ENV}}}",
            protected=True,
            insecure_tls=True,
            roles=USER_MODULE,
        )
        for path in HOPSWORKS_PATHS
    ]


def hopsworks_cards(ctx: Context) -> list[Card]:
    if ctx.hopsworks is None:
        return []
    return [
        Card(
            key="hopsworks",
            group="data",
            title="Hopsworks",
            description="Feature store, notebooks and GPU training jobs on the Hopsworks cluster.",
            icon="HW",
            url="/hopsworks/",
            status_url="/hopsworks/",
            protected=True,
        )
    ]


def use_case_cards() -> list[Card]:
    """The use cases' notebooks, each opening in the signed-in person's own JupyterLab."""
    return [
        Card(
            key=f"usecase-{case.key}",
            group="use-cases",
            title=case.title,
            description=case.description,
            icon="UC",
            url=case.url,
            status_url=f"{BASE_PATH}hub/health",
            protected=True,
            roles=USER_MODULE,
        )
        for case in USE_CASES
    ]


def site_names(ctx: Context) -> list[str]:
    """The DNS names the gateway serves (each needs an A record to the public node for its certificate)."""
    return [ctx.config.domain]


def caddy_site(ctx: Context, specs: Sequence[ServiceSpec]) -> CaddySite:
    (site,) = site_names(ctx)
    return CaddySite(
        site=site,
        routes=[*caddy_routes(specs), *hopsworks_routes(ctx)],
        homepage_root=HOMEPAGE_ROOT,
        email=ctx.config.acme_email,
        auth=AuthGate(upstream=gatekeeper.UPSTREAM) if ctx.config.identity.enabled else None,
        metrics_listen=f":{CADDY_METRICS_PORT}" if ctx.config.monitoring.enabled else None,
    )


def homepage_html(ctx: Context, specs: Sequence[ServiceSpec]) -> str:
    return render_homepage(
        [*cards_from_specs(specs), *hopsworks_cards(ctx), *use_case_cards()], domain=ctx.config.domain
    )


def specs(ctx: Context, others: Sequence[ServiceSpec]) -> list[ServiceSpec]:
    cfg = ctx.config.gateway
    monitored = ctx.config.monitoring.enabled
    out = [
        ServiceSpec(
            name="caddy",
            image=cfg.caddy_image,
            constraints=(ctx.placement.public,),
            networks=caddy_networks(others, monitored),
            ports=(Port(80, 80), Port(443, 443), Port(443, 443, "udp")),
            env={HOPSWORKS_UPSTREAM_ENV: ctx.hopsworks.gateway_upstream} if ctx.hopsworks else {},
            configs=(
                ConfigFile("caddyfile", "/etc/caddy/Caddyfile", render_caddyfile(caddy_site(ctx, others))),
                ConfigFile("homepage", f"{HOMEPAGE_ROOT}/index.html", homepage_html(ctx, others)),
            ),
            mounts=(Mount(ctx.volume("caddy-data"), "/data"), Mount(ctx.volume("caddy-config"), "/config")),
            resources=Resources(1.0, 512, 0.1, 128),
            healthcheck=http_check("http://127.0.0.1:2019/config/"),
            metrics=Metrics(CADDY_METRICS_PORT) if monitored else None,
            # Host-mode ports cannot be held by two tasks at once: stop the old task first.
            update=STOP_FIRST,
        ),
    ]
    postgis_deployed = any(s.name == "postgis" for s in others)
    if cfg.postgis_clients and postgis_deployed:
        static = (
            "--entrypoints.postgis.address=:5432",
            "--entrypoints.ping.address=:8082",
            "--ping=true",
            "--ping.entrypoint=ping",
            "--providers.file.filename=/etc/traefik/dynamic.yml",
            "--log.level=INFO",
        )
        out.append(
            ServiceSpec(
                name="traefik",
                image=cfg.traefik_image,
                constraints=(ctx.placement.public,),
                networks=("data",),
                ports=(Port(5432, cfg.postgis_port),),
                args=static,
                configs=(
                    ConfigFile(
                        "dynamic",
                        "/etc/traefik/dynamic.yml",
                        render_traefik_tcp("postgis:5432", cfg.postgis_clients),
                    ),
                ),
                resources=Resources(0.5, 256, 0.05, 64),
                healthcheck=Healthcheck(("CMD", "traefik", "healthcheck", *static)),
                update=STOP_FIRST,
                after=("postgis",),
            )
        )
    return out
