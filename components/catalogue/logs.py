"""Logs: Filebeat on every node -> Logstash -> single-node OpenSearch, browsed in OpenSearch Dashboards.

OpenSearch runs with its security plugin: platform admins sign in to Dashboards with the platform's
OpenID Connect provider and OpenSearch itself checks their ID token and maps the role `admin` to
`all_access` (components.render.opensearch_security, components.render.dashboards); scientists get
no role there. Dashboards and Logstash reach OpenSearch as internal users whose passwords are
generated Docker secrets. The gateway's admin check in front of /logs stays as the first guard.

OpenSearch needs `vm.max_map_count >= 262144` on its host; a service cannot set that (vm.* sysctls are
not namespaced), so the spec declares it and the node's cloud-init sets it (a plan invariant checks
the two agree).
"""

from __future__ import annotations

from components.catalogue.common import LINUX, Context, http_check, secret_env_script
from components.oidc import OidcClient
from components.render import dashboards, opensearch_security
from components.render.logs import render_filebeat, render_logstash_pipeline
from components.render.opensearch_security import KIBANASERVER, LOGSTASH
from components.roles import ADMIN_ONLY
from components.service_spec import (
    STOP_FIRST,
    ConfigFile,
    Healthcheck,
    HomepageEntry,
    HttpRoute,
    Mount,
    Resources,
    SecretFile,
    ServiceSpec,
)

OPENSEARCH_MAP_COUNT = 262144
OPENSEARCH_URL = "http://opensearch:9200"
DASHBOARDS_PATH = "/logs"
DASHBOARDS_CLIENT = OidcClient(
    "opensearch-dashboards",
    "OpenSearch Dashboards",
    redirect_paths=(dashboards.redirect_path(DASHBOARDS_PATH),),
    post_logout_paths=(DASHBOARDS_PATH,),
    token_endpoint_auth_method="client_secret_post",
)
"""Dashboards signs people in with the platform's OpenID Connect provider; it sends its secret in
the token request's body, hence `client_secret_post`. Signing out, it sends people to the
provider's end-session endpoint with its `base_redirect_url` (`/logs`) as the return address."""
COOKIE_PASSWORD = SecretFile("opensearch_dashboards_cookie_password", "opensearch_dashboards_cookie_password")
LOGSTASH_ENTRYPOINT = "/usr/local/bin/docker-entrypoint"
"""The Logstash image's own entrypoint, run once the password is in the environment."""
IMAGE_UID = "1000"
"""The user the OpenSearch, Dashboards and Logstash images run as: it must read their secrets."""


def _secret(key: str) -> SecretFile:
    return SecretFile(key, key)


def _opensearch_configs(ctx: Context) -> tuple[ConfigFile, ...]:
    sec = opensearch_security
    return (
        ConfigFile("opensearch-yml", sec.OPENSEARCH_YML, sec.render_opensearch_yml()),
        ConfigFile(
            "security-config", f"{sec.SECURITY_DIR}/config.yml", sec.render_security_config(ctx.base_url)
        ),
        ConfigFile("security-roles", f"{sec.SECURITY_DIR}/roles.yml", sec.render_roles()),
        ConfigFile(
            "security-roles-mapping", f"{sec.SECURITY_DIR}/roles_mapping.yml", sec.render_roles_mapping()
        ),
        ConfigFile("internal-users", sec.USERS_TEMPLATE, sec.render_internal_users_template()),
        ConfigFile("start", sec.START_SCRIPT, sec.render_start_script()),
    )


def specs(ctx: Context) -> list[ServiceSpec]:
    cfg = ctx.config.logs
    if not cfg.enabled:
        return []
    heap = cfg.heap_mb
    return [
        ServiceSpec(
            name="opensearch",
            image=cfg.opensearch_image,
            networks=("logs",),
            constraints=(ctx.placement.data_home,),
            command=("/bin/sh", opensearch_security.START_SCRIPT),
            env={
                "discovery.type": "single-node",
                "bootstrap.memory_lock": "false",
                "DISABLE_INSTALL_DEMO_CONFIG": "true",
                "OPENSEARCH_JAVA_OPTS": f"-Xms{heap}m -Xmx{heap}m",
            },
            configs=_opensearch_configs(ctx),
            secrets=(_secret(KIBANASERVER.secret_key), _secret(LOGSTASH.secret_key)),
            secret_uid=IMAGE_UID,
            mounts=(Mount(ctx.volume("opensearch-data"), "/usr/share/opensearch/data"),),
            host_sysctls={"vm.max_map_count": OPENSEARCH_MAP_COUNT},
            exposes="admin-api",  # port 9200: every log, for whoever holds an admin's token
            resources=Resources(2.0, heap * 2, 0.25, heap),
            healthcheck=Healthcheck(("CMD-SHELL", opensearch_security.healthcheck_command())),
            update=STOP_FIRST,
        ),
        ServiceSpec(
            name="opensearch-dashboards",
            image=cfg.dashboards_image,
            networks=("logs", "admin"),
            constraints=(LINUX,),
            command=secret_env_script(
                {
                    dashboards.PASSWORD_ENV: f"$(cat {KIBANASERVER.secret_file})",
                    dashboards.CLIENT_SECRET_ENV: f"$(cat {DASHBOARDS_CLIENT.secret_file})",
                    dashboards.COOKIE_PASSWORD_ENV: f"$(cat /run/secrets/{COOKIE_PASSWORD.target})",
                },
                f"{dashboards.ENTRYPOINT} opensearch-dashboards",
            ),
            configs=(
                ConfigFile(
                    "dashboards-yml",
                    dashboards.CONFIG_PATH,
                    dashboards.render_dashboards_yml(
                        ctx.base_url, DASHBOARDS_PATH, DASHBOARDS_CLIENT, OPENSEARCH_URL
                    ),
                ),
            ),
            secrets=(
                _secret(KIBANASERVER.secret_key),
                _secret(DASHBOARDS_CLIENT.secret_key),
                COOKIE_PASSWORD,
            ),
            secret_uid=IMAGE_UID,
            oidc_client=DASHBOARDS_CLIENT,
            resources=Resources(1.0, 1024, 0.1, 256),
            healthcheck=http_check(f"http://127.0.0.1:5601{DASHBOARDS_PATH}/api/status", tool="curl"),
            route=HttpRoute(DASHBOARDS_PATH, 5601, protected=True, roles=ADMIN_ONLY),
            exposes="admin-ui",
            homepage=HomepageEntry(
                "Logs",
                "Search the logs of every container (OpenSearch Dashboards).",
                "LG",
                "logs",
                status_path=f"{DASHBOARDS_PATH}/api/status",
            ),
            after=("opensearch",),
        ),
        ServiceSpec(
            name="logstash",
            image=cfg.logstash_image,
            networks=("logs",),
            constraints=(LINUX,),
            command=secret_env_script(
                {LOGSTASH.password_env: f"$(cat {LOGSTASH.secret_file})"}, LOGSTASH_ENTRYPOINT
            ),
            env={"LS_JAVA_OPTS": "-Xms512m -Xmx512m", "XPACK_MONITORING_ENABLED": "false"},
            configs=(
                ConfigFile(
                    "pipeline",
                    "/usr/share/logstash/pipeline/logstash.conf",
                    render_logstash_pipeline(OPENSEARCH_URL, LOGSTASH.name, LOGSTASH.password_env),
                ),
            ),
            secrets=(_secret(LOGSTASH.secret_key),),
            secret_uid=IMAGE_UID,
            resources=Resources(1.0, 1024, 0.1, 512),
            healthcheck=http_check("http://127.0.0.1:9600/", tool="curl"),
            after=("opensearch",),
        ),
        ServiceSpec(
            name="filebeat",
            image=cfg.filebeat_image,
            mode="global",
            networks=("logs",),
            constraints=(LINUX,),
            user="root",
            args=("-e", "--strict.perms=false"),
            configs=(
                ConfigFile(
                    "filebeat-yml", "/usr/share/filebeat/filebeat.yml", render_filebeat("logstash:5044")
                ),
            ),
            mounts=(
                Mount("/var/lib/docker/containers", "/var/lib/docker/containers", "bind", True),
                Mount("/var/run/docker.sock", "/var/run/docker.sock", "bind", True),
            ),
            resources=Resources(0.3, 256, 0.02, 64),
            healthcheck=Healthcheck(("CMD", "filebeat", "test", "config", "--strict.perms=false")),
            after=("logstash",),
        ),
    ]
