"""Traefik's dynamic file config: TCP to PostGIS, only from the authorised client networks."""

from __future__ import annotations

from collections.abc import Sequence

import yaml


def render_traefik_tcp(postgis_upstream: str, clients: Sequence[str]) -> str:
    if not clients:
        raise ValueError("no authorised PostGIS clients: leave Traefik out instead of opening the port")
    return yaml.safe_dump(
        {
            "tcp": {
                "routers": {
                    "postgis": {
                        "entryPoints": ["postgis"],
                        "rule": "HostSNI(`*`)",
                        "service": "postgis",
                        "middlewares": ["postgis-clients"],
                    }
                },
                "middlewares": {"postgis-clients": {"ipAllowList": {"sourceRange": list(clients)}}},
                "services": {"postgis": {"loadBalancer": {"servers": [{"address": postgis_upstream}]}}},
            }
        },
        sort_keys=False,
    )
