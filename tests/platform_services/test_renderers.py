"""Generated configuration files, checked by the programs that read them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from components.catalogue import ADMIN_SERVICES, all_specs, gateway
from components.catalogue.monitoring import prometheus_settings
from components.render.caddyfile import render_caddyfile
from components.render.grafana import render_dashboard_provider, render_datasources, render_swarm_dashboard
from components.render.identity import render_identity_schema, render_kratos
from components.render.logs import render_filebeat
from components.render.prometheus import render_prometheus
from components.render.traefik import render_traefik_tcp
from tests.platform_services.conftest import stack_context, tool


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def production_caddyfile(stack: str, groups: dict, tmp_path: Path) -> Path:
    ctx = stack_context(stack)
    others = [s for g, specs in groups.items() if g != "gateway" for s in specs]
    path = tmp_path / "Caddyfile"
    path.write_text(render_caddyfile(gateway.caddy_site(ctx, others)))
    return path


def test_caddyfile_passes_caddy_validate(stack, groups, tmp_path):
    path = production_caddyfile(stack, groups, tmp_path)
    result = run(tool("caddy"), "validate", "--adapter", "caddyfile", "--config", str(path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Valid configuration" in result.stdout + result.stderr
    broken = path.read_text().replace("import identity", "import no-such-snippet", 1)
    path.write_text(broken)
    assert run(tool("caddy"), "validate", "--adapter", "caddyfile", "--config", str(path)).returncode != 0


def _handlers(node):
    """Every handler object anywhere below a Caddy JSON node."""
    if isinstance(node, dict):
        if "handler" in node:
            yield node
        for value in node.values():
            yield from _handlers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _handlers(item)


def _route_for(routes: list, prefix: str) -> dict:
    for route in routes:
        for match in route.get("match", []):
            if f"{prefix}/*" in match.get("path", []):
                return route
    raise AssertionError(f"no route for {prefix}/* in the adapted config")


def test_admin_routes_are_behind_forward_auth_in_caddys_own_json(stack, groups, tmp_path):
    """`caddy adapt` gives the config as Caddy will run it: check the handler chains there."""
    path = production_caddyfile(stack, groups, tmp_path)
    result = run(tool("caddy"), "adapt", "--adapter", "caddyfile", "--config", str(path))
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    servers = config["apps"]["http"]["servers"]
    site = next(s for s in servers.values() if ":443" in s["listen"])
    routes = [
        r for top in site["routes"] for h in _handlers(top) if h["handler"] == "subroute" for r in h["routes"]
    ]
    specs = {s.name: s for s in all_specs(groups)}
    admin = [specs[name] for name in ADMIN_SERVICES if name in specs]
    assert len(admin) == 4
    for spec in admin:
        chain = list(_handlers(_route_for(routes, spec.route.path)))
        proxies = [h for h in chain if h["handler"] == "reverse_proxy"]
        upstreams = [u["dial"] for h in proxies for u in h.get("upstreams", [])]
        # forward_auth is a reverse_proxy to the gatekeeper that runs before the one to the service,
        # asking for the route's roles in the path Caddy writes: admin modules admit admin only.
        assert upstreams[0] == "gatekeeper:4180", (spec.name, upstreams)
        assert proxies[0]["rewrite"]["uri"] == "/roles/admin", spec.name
        assert upstreams[-1] == f"{spec.name}:{spec.route.port}"
    jupyter = list(_handlers(_route_for(routes, specs["jupyter-proxy"].route.path)))
    assert next(h for h in jupyter if h["handler"] == "reverse_proxy")["rewrite"]["uri"] == (
        "/roles/admin,scientist"
    )
    public = specs["kratos"]
    chain = list(_handlers(_route_for(routes, public.route.path)))
    assert [u["dial"] for h in chain if h["handler"] == "reverse_proxy" for u in h["upstreams"]] == [
        "kratos:4433"
    ]


def test_caddy_image_matches_the_validating_binary(config):
    """Validate with the Caddy version that runs: the image tag and `caddy version` agree on major.minor."""
    binary = run(tool("caddy"), "version").stdout.split()[0].lstrip("v")
    tag = config.gateway.caddy_image.split(":", 1)[1]
    assert tag.split(".")[:2] == binary.split(".")[:2], (tag, binary)


def test_prometheus_config_passes_promtool(stack, tmp_path):
    path = tmp_path / "prometheus.yml"
    path.write_text(render_prometheus(prometheus_settings(stack_context(stack))))
    result = run(tool("promtool"), "check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    job = yaml.safe_load(path.read_text())["scrape_configs"][1]
    assert job["dockerswarm_sd_configs"][0]["role"] == "tasks"


def test_grafana_provisioning_is_consistent():
    datasource = yaml.safe_load(render_datasources("http://prometheus:9090/prometheus"))["datasources"][0]
    dashboard = json.loads(render_swarm_dashboard())
    provider = yaml.safe_load(render_dashboard_provider())["providers"][0]
    assert provider["options"]["path"] == "/etc/grafana/dashboards"
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {datasource["uid"]}


def test_kratos_config_points_at_routed_urls():
    config = yaml.safe_load(render_kratos("https://p.example.org", "no-reply@p.example.org"))
    assert config["serve"]["public"]["base_url"] == "https://p.example.org/kratos/"
    assert config["selfservice"]["flows"]["login"]["ui_url"] == "https://p.example.org/auth/login"
    assert config["courier"]["smtp"] == {"from_address": "no-reply@p.example.org"}
    schema = json.loads(render_identity_schema())
    assert schema["properties"]["traits"]["required"] == ["email"]


def test_traefik_refuses_an_open_postgis():
    text = render_traefik_tcp("postgis:5432", ["192.0.2.0/24"])
    assert yaml.safe_load(text)["tcp"]["middlewares"]["postgis-clients"]["ipAllowList"]["sourceRange"] == [
        "192.0.2.0/24"
    ]
    try:
        render_traefik_tcp("postgis:5432", [])
    except ValueError as exc:
        assert "leave Traefik out" in str(exc)
    else:
        raise AssertionError("empty client list accepted")


def test_filebeat_ships_to_logstash():
    config = yaml.safe_load(render_filebeat("logstash:5044"))
    assert config["output.logstash"]["hosts"] == ["logstash:5044"]


def test_loader_script_is_valid_shell():
    script = Path(__file__).resolve().parents[2] / "docker" / "semantic" / "load-cubes"
    assert run("sh", "-n", str(script)).returncode == 0
    assert re.search(r"until pg_isready", script.read_text())
