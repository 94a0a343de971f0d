"""Logs: Filebeat on every node -> Logstash -> single-node OpenSearch, browsed in OpenSearch Dashboards.

OpenSearch needs `vm.max_map_count >= 262144` on its host; a service cannot set that (vm.* sysctls are
not namespaced), so the spec declares it and the node's cloud-init sets it (a plan invariant checks
the two agree).
"""

from __future__ import annotations

from components.catalogue.common import LINUX, Context, http_check
from components.render.logs import render_filebeat, render_logstash_pipeline
from components.roles import ADMIN_ONLY
from components.service import (
    STOP_FIRST,
    ConfigFile,
    Healthcheck,
    HomepageEntry,
    HttpRoute,
    Mount,
    Resources,
    ServiceSpec,
)

OPENSEARCH_MAP_COUNT = 262144


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
            env={
                "discovery.type": "single-node",
                "bootstrap.memory_lock": "false",
                "DISABLE_SECURITY_PLUGIN": "true",
                "DISABLE_INSTALL_DEMO_CONFIG": "true",
                "OPENSEARCH_JAVA_OPTS": f"-Xms{heap}m -Xmx{heap}m",
            },
            mounts=(Mount(ctx.volume("opensearch-data"), "/usr/share/opensearch/data"),),
            host_sysctls={"vm.max_map_count": OPENSEARCH_MAP_COUNT},
            exposes="admin-api",  # port 9200 without the security plugin: read or delete every log
            resources=Resources(2.0, heap * 2, 0.25, heap),
            healthcheck=http_check(
                "http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=4s", tool="curl"
            ),
            update=STOP_FIRST,
        ),
        ServiceSpec(
            name="opensearch-dashboards",
            image=cfg.dashboards_image,
            networks=("logs", "admin"),
            constraints=(LINUX,),
            env={
                "OPENSEARCH_HOSTS": '["http://opensearch:9200"]',
                "DISABLE_SECURITY_DASHBOARDS_PLUGIN": "true",
                "SERVER_BASEPATH": "/logs",
                "SERVER_REWRITEBASEPATH": "true",
            },
            resources=Resources(1.0, 1024, 0.1, 256),
            healthcheck=http_check("http://127.0.0.1:5601/logs/api/status", tool="curl"),
            route=HttpRoute("/logs", 5601, protected=True, roles=ADMIN_ONLY),
            exposes="admin-ui",
            homepage=HomepageEntry(
                "Logs",
                "Search the logs of every container (OpenSearch Dashboards).",
                "LG",
                "logs",
                status_path="/logs/api/status",
            ),
            after=("opensearch",),
        ),
        ServiceSpec(
            name="logstash",
            image=cfg.logstash_image,
            networks=("logs",),
            constraints=(LINUX,),
            env={"LS_JAVA_OPTS": "-Xms512m -Xmx512m", "XPACK_MONITORING_ENABLED": "false"},
            configs=(
                ConfigFile(
                    "pipeline",
                    "/usr/share/logstash/pipeline/logstash.conf",
                    render_logstash_pipeline("http://opensearch:9200"),
                ),
            ),
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
