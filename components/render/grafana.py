"""Grafana provisioning: the Prometheus datasource and a file provider with one Swarm dashboard.

Provisioned files make a fresh Grafana useful at once and keep dashboards in the repository
instead of in a volume nobody reviews.
"""

from __future__ import annotations

import json

import yaml

DASHBOARD_DIR = "/etc/grafana/dashboards"


def render_datasources(prometheus_url: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": 1,
            "datasources": [
                {
                    "name": "Prometheus",
                    "uid": "prometheus",
                    "type": "prometheus",
                    "access": "proxy",
                    "url": prometheus_url,
                    "isDefault": True,
                    "editable": False,
                }
            ],
        },
        sort_keys=False,
    )


def render_dashboard_provider() -> str:
    return yaml.safe_dump(
        {
            "apiVersion": 1,
            "providers": [
                {
                    "name": "deepcube",
                    "folder": "DeepCube",
                    "type": "file",
                    "disableDeletion": True,
                    "allowUiUpdates": False,
                    "options": {"path": DASHBOARD_DIR},
                }
            ],
        },
        sort_keys=False,
    )


def _panel(panel_id: int, title: str, expr: str, unit: str, x: int, y: int) -> dict:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "prometheus"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {
                "refId": "A",
                "expr": expr,
                "legendFormat": "{{node}}{{container_label_com_docker_swarm_service_name}}",
            }
        ],
    }


def render_swarm_dashboard() -> str:
    """Node CPU/memory (node-exporter) and per-service CPU/memory (cAdvisor)."""
    panels = [
        _panel(
            1,
            "Node CPU busy",
            '1 - avg by (node) (rate(node_cpu_seconds_total{mode="idle"}[5m]))',
            "percentunit",
            0,
            0,
        ),
        _panel(2, "Node memory available", "node_memory_MemAvailable_bytes", "bytes", 12, 0),
        _panel(
            3,
            "Service CPU",
            "sum by (container_label_com_docker_swarm_service_name) "
            '(rate(container_cpu_usage_seconds_total{container_label_com_docker_swarm_service_name!=""}[5m]))',
            "short",
            0,
            8,
        ),
        _panel(
            4,
            "Service memory",
            "sum by (container_label_com_docker_swarm_service_name) "
            '(container_memory_working_set_bytes{container_label_com_docker_swarm_service_name!=""})',
            "bytes",
            12,
            8,
        ),
    ]
    return json.dumps(
        {
            "uid": "deepcube-swarm",
            "title": "Swarm overview",
            "schemaVersion": 39,
            "version": 1,
            "time": {"from": "now-6h", "to": "now"},
            "refresh": "1m",
            "tags": ["deepcube"],
            "panels": panels,
        },
        indent=2,
        sort_keys=True,
    )
