"""Monitoring: Prometheus (targets discovered from the Swarm), node-exporter and cAdvisor on every
node, Grafana with its datasource and dashboard provisioned from the repository."""

from __future__ import annotations

from components.catalogue.common import LINUX, MANAGER, Context, http_check
from components.oidc import OidcClient
from components.render.grafana import (
    DASHBOARD_DIR,
    render_dashboard_provider,
    render_datasources,
    render_swarm_dashboard,
)
from components.render.prometheus import PrometheusSettings, render_prometheus
from components.render.sso import grafana_oauth_env
from components.roles import ADMIN_ONLY
from components.service_spec import (
    STOP_FIRST,
    ConfigFile,
    HomepageEntry,
    HttpRoute,
    Metrics,
    Mount,
    Resources,
    SecretFile,
    ServiceSpec,
)

PROMETHEUS_PREFIX = "/prometheus"
GRAFANA_CLIENT = OidcClient("grafana", "Grafana", redirect_paths=("/grafana/login/generic_oauth",))
"""Grafana signs people in with the platform's OpenID Connect provider (components.render.sso)."""


def prometheus_settings(ctx: Context) -> PrometheusSettings:
    return PrometheusSettings(
        monitoring_network=ctx.network("monitoring"),
        route_prefix=PROMETHEUS_PREFIX,
        scrape_interval=ctx.config.monitoring.scrape_interval,
    )


def specs(ctx: Context) -> list[ServiceSpec]:
    cfg = ctx.config.monitoring
    if not cfg.enabled:
        return []
    return [
        ServiceSpec(
            name="prometheus",
            image=cfg.prometheus_image,
            networks=("monitoring", "admin"),
            constraints=(MANAGER, ctx.placement.admin_home),
            user="root",
            args=(
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                f"--storage.tsdb.retention.time={cfg.retention}",
                f"--web.external-url={ctx.base_url}{PROMETHEUS_PREFIX}/",
                f"--web.route-prefix={PROMETHEUS_PREFIX}",
            ),
            configs=(
                ConfigFile(
                    "prometheus-yml",
                    "/etc/prometheus/prometheus.yml",
                    render_prometheus(prometheus_settings(ctx)),
                ),
            ),
            mounts=(
                Mount("/var/run/docker.sock", "/var/run/docker.sock", "bind", read_only=True),
                Mount(ctx.volume("prometheus-data"), "/prometheus"),
            ),
            resources=Resources(1.0, 2048, 0.2, 512),
            healthcheck=http_check(f"http://127.0.0.1:9090{PROMETHEUS_PREFIX}/-/healthy"),
            route=HttpRoute(PROMETHEUS_PREFIX, 9090, protected=True, roles=ADMIN_ONLY),
            exposes="admin-ui",
            homepage=HomepageEntry(
                "Prometheus",
                "Metrics of every node and service, discovered from the Swarm.",
                "PM",
                "monitoring",
                status_path=f"{PROMETHEUS_PREFIX}/-/healthy",
            ),
            update=STOP_FIRST,
        ),
        ServiceSpec(
            name="grafana",
            image=cfg.grafana_image,
            networks=("monitoring", "admin"),
            constraints=(MANAGER, ctx.placement.admin_home),
            env={
                "GF_SERVER_ROOT_URL": f"{ctx.base_url}/grafana/",
                "GF_SERVER_SERVE_FROM_SUB_PATH": "true",
                "GF_SECURITY_ADMIN_PASSWORD__FILE": "/run/secrets/grafana_admin_password",
                "GF_USERS_ALLOW_SIGN_UP": "false",
                "GF_ANALYTICS_REPORTING_ENABLED": "false",
                **grafana_oauth_env(ctx.base_url, GRAFANA_CLIENT),
            },
            secrets=(
                SecretFile("grafana_admin_password", "grafana_admin_password"),
                SecretFile(GRAFANA_CLIENT.secret_key, GRAFANA_CLIENT.secret_key),
            ),
            oidc_client=GRAFANA_CLIENT,
            configs=(
                ConfigFile(
                    "datasources",
                    "/etc/grafana/provisioning/datasources/prometheus.yml",
                    render_datasources(f"http://prometheus:9090{PROMETHEUS_PREFIX}"),
                ),
                ConfigFile(
                    "dashboard-provider",
                    "/etc/grafana/provisioning/dashboards/deepcube.yml",
                    render_dashboard_provider(),
                ),
                ConfigFile("dashboard-swarm", f"{DASHBOARD_DIR}/swarm.json", render_swarm_dashboard()),
            ),
            mounts=(Mount(ctx.volume("grafana-data"), "/var/lib/grafana"),),
            resources=Resources(0.5, 512, 0.1, 128),
            healthcheck=http_check("http://127.0.0.1:3000/api/health"),
            route=HttpRoute("/grafana", 3000, protected=True, roles=ADMIN_ONLY),
            exposes="admin-ui",
            homepage=HomepageEntry(
                "Grafana",
                "Dashboards: nodes, services, the data cube jobs.",
                "GF",
                "monitoring",
                status_path="/grafana/api/health",
            ),
            metrics=Metrics(3000),
            update=STOP_FIRST,
        ),
        ServiceSpec(
            name="node-exporter",
            image=cfg.node_exporter_image,
            mode="global",
            networks=("monitoring",),
            constraints=(LINUX,),
            args=("--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/rootfs"),
            mounts=(
                Mount("/proc", "/host/proc", "bind", True),
                Mount("/sys", "/host/sys", "bind", True),
                Mount("/", "/rootfs", "bind", True),
            ),
            resources=Resources(0.2, 128, 0.02, 32),
            healthcheck=http_check("http://127.0.0.1:9100/metrics"),
            metrics=Metrics(9100),
        ),
        ServiceSpec(
            name="cadvisor",
            image=cfg.cadvisor_image,
            mode="global",
            networks=("monitoring",),
            constraints=(LINUX,),
            args=(
                "--docker_only=true",
                "--housekeeping_interval=30s",
                "--store_container_labels=false",
                "--whitelisted_container_labels=com.docker.swarm.service.name,com.docker.swarm.node.id",
            ),
            mounts=(
                Mount("/", "/rootfs", "bind", True),
                Mount("/var/run", "/var/run", "bind", True),
                Mount("/sys", "/sys", "bind", True),
                Mount("/var/lib/docker", "/var/lib/docker", "bind", True),
                Mount("/dev/disk", "/dev/disk", "bind", True),
            ),
            resources=Resources(0.3, 256, 0.05, 64),
            healthcheck=http_check("http://127.0.0.1:8080/healthz"),
            metrics=Metrics(8080),
        ),
    ]
