"""prometheus.yml: discover every scrape target from the Swarm itself (dockerswarm_sd_configs).

Services opt in with labels (`prometheus.job`, `prometheus.port`, `prometheus.path`, set by
`components.service_spec.service_labels`), so adding a module adds its metrics without editing this file.
Only task addresses on the monitoring network are kept: Prometheus is attached to that network only.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml


@dataclass(frozen=True)
class PrometheusSettings:
    monitoring_network: str
    """Swarm name of the overlay network Prometheus shares with its targets."""
    route_prefix: str = "/prometheus"
    scrape_interval: str = "30s"
    docker_host: str = "unix:///var/run/docker.sock"


def render_prometheus(settings: PrometheusSettings) -> str:
    """The YAML text; `promtool check config` is the judge."""
    label = "__meta_dockerswarm_service_label_prometheus_"
    config = {
        "global": {
            "scrape_interval": settings.scrape_interval,
            "evaluation_interval": settings.scrape_interval,
        },
        "scrape_configs": [
            {
                "job_name": "prometheus",
                "metrics_path": f"{settings.route_prefix}/metrics",
                "static_configs": [{"targets": ["127.0.0.1:9090"]}],
            },
            {
                "job_name": "swarm-services",
                "dockerswarm_sd_configs": [
                    {"host": settings.docker_host, "role": "tasks", "refresh_interval": "30s"}
                ],
                "relabel_configs": [
                    {
                        "source_labels": ["__meta_dockerswarm_task_desired_state"],
                        "regex": "running",
                        "action": "keep",
                    },
                    {"source_labels": [f"{label}job"], "regex": ".+", "action": "keep"},
                    {
                        "source_labels": ["__meta_dockerswarm_network_name"],
                        "regex": settings.monitoring_network,
                        "action": "keep",
                    },
                    {"source_labels": [f"{label}job"], "target_label": "job"},
                    {"source_labels": [f"{label}path"], "regex": "(.+)", "target_label": "__metrics_path__"},
                    {
                        "source_labels": ["__address__", f"{label}port"],
                        "regex": r"([^:]+):\d+;(\d+)",
                        "replacement": "$1:$2",
                        "target_label": "__address__",
                    },
                    {"source_labels": ["__meta_dockerswarm_node_hostname"], "target_label": "node"},
                    {"source_labels": ["__meta_dockerswarm_task_slot"], "target_label": "slot"},
                ],
            },
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)
