"""The platform services under mocks, for both stacks: what the Pulumi program would declare."""

from __future__ import annotations

import base64
import json

import pytest

from components.catalogue import ADMIN_SERVICES, NETWORKS, all_specs
from components.catalogue.common import GATEWAY_NETWORKS
from components.catalogue.hub import USE_CASES
from components.service_spec import check_pinned_image
from infra.manifest import Manifest, is_secret
from infra.mock_outputs import COMPUTED_OUTPUTS
from infra.stack_files import SECRET_PLACEHOLDER
from tests.platform_services.conftest import PREFIX, evaluate_services
from tests.platform_services.stacks import services_value

SERVICE = "docker:index/service:Service"
SECRET_TYPE = "docker:index/secret:Secret"
CONFIG = "docker:index/serviceConfig:ServiceConfig"
PASSWORD = "random:index/randomPassword:RandomPassword"


def services(manifest: Manifest) -> dict[str, dict]:
    """Swarm service name (without prefix) -> its recorded record."""
    return {r.inputs["name"].removeprefix(f"{PREFIX}-"): r for r in manifest.of_type(SERVICE)}


def homepage(manifest: Manifest) -> str:
    """The page as deployed: the gateway's homepage Swarm config, decoded."""
    (record,) = [
        r for r in manifest.of_type(CONFIG) if r.inputs["name"].startswith(f"{PREFIX}-caddy-homepage-")
    ]
    return base64.b64decode(record.inputs["data"]).decode()


def test_every_service_is_pinned_limited_checked_and_placed(manifest):
    records = services(manifest)
    assert records
    for name, record in records.items():
        container = record.inputs["taskSpec"]["containerSpec"]
        check_pinned_image(container["image"], service=name)
        limits = record.inputs["taskSpec"]["resources"]
        assert limits["limits"]["nanoCpus"] > 0 and limits["limits"]["memoryBytes"] > 0, name
        assert limits["reservation"]["nanoCpus"] > 0 and limits["reservation"]["memoryBytes"] > 0, name
        assert record.inputs["taskSpec"]["placement"]["constraints"], name
        labels = {item["label"]: item["value"] for item in record.inputs["labels"]}
        if labels["deepcube.mode"] == "job":
            assert record.inputs["taskSpec"]["restartPolicy"]["condition"] == "on-failure", name
        else:
            assert "healthcheck" in container or name in NO_HEALTHCHECK, name
            assert record.inputs["updateConfig"]["failureAction"] == "rollback", name
            assert "rollbackConfig" in record.inputs, name


NO_HEALTHCHECK = {"portainer", "portainer-agent", "sextant", "social-api", "social-worker", "jupyter"}


def test_specs_without_healthcheck_state_why(groups):
    for spec in all_specs(groups):
        if spec.healthcheck is None:
            assert len(spec.no_healthcheck_reason or "") > 20, spec.name
            assert spec.mode == "job" or spec.name in NO_HEALTHCHECK, spec.name


def test_built_images_are_pinned_by_digest(manifest):
    records = services(manifest)
    for name in ("jupyterhub", "dask-scheduler", "semantic-loader"):
        assert "@sha256:" in records[name].inputs["taskSpec"]["containerSpec"]["image"], name
    images = manifest.of_type("docker:index/image:Image")
    assert sorted(r.inputs["imageName"].rsplit("/", 1)[1] for r in images) == [
        "cube-engine:0.1.0",
        "semantic:0.1.0",
    ]
    for record in images:
        assert record.inputs["build"]["dockerfile"].endswith("/Dockerfile")
        assert record.secret_inputs == ["registry"]


def test_only_the_networks_each_service_needs(manifest, groups):
    """A routed module shares exactly one network with the gateway (`edge` for user modules, `identity`
    for the identity services, `admin` for admin modules); everything else stays on its concern."""
    network_by_id = {}
    for record in manifest.of_type("docker:index/network:Network"):
        network_by_id[manifest_id(record)] = record.inputs["name"].removeprefix(f"{PREFIX}-")
    assert set(network_by_id.values()) <= set(NETWORKS)
    specs = {s.name: s for s in all_specs(groups)}
    for name, record in services(manifest).items():
        attached = {network_by_id[n["id"]] for n in record.inputs["taskSpec"]["networksAdvanceds"]}
        assert attached == set(specs[name].networks), name
        routed = specs[name].route is not None
        if name != "caddy":
            assert len(attached & set(GATEWAY_NETWORKS)) == 1 or not routed, name
            assert routed or not attached & {"edge", "admin"}, name
            assert attached & set(GATEWAY_NETWORKS) <= set(specs["caddy"].networks), name
        expected_front = {"admin"} if specs[name].exposes == "admin-ui" else set()
        if specs[name].workload == "user" and routed:
            expected_front = {"edge"}
        assert expected_front <= attached, name
    assert set(network_by_id.values()) == {n for s in specs.values() for n in s.networks}


def manifest_id(record) -> str:
    """The mock engine's id for a resource (what other resources receive as `.id`)."""
    from infra.mock_engine import stable_token

    return f"{record.name}-{stable_token(record.type, record.name)}"


def test_no_secret_in_plain_text_anywhere(manifest, stack):
    text = manifest.to_json()
    generated = [COMPUTED_OUTPUTS[PASSWORD](r.name, r.inputs)["result"] for r in manifest.of_type(PASSWORD)]
    assert generated
    for value in generated:
        assert value not in text
        assert base64.b64encode(value.encode()).decode() not in text
    assert SECRET_PLACEHOLDER not in text
    for record in manifest.of_type(SERVICE):
        assert record.secret_inputs == [], record.name
        assert "<secret" not in json.dumps(record.inputs), record.name
        env = record.inputs["taskSpec"]["containerSpec"].get("env", {})
        for key, value in env.items():
            if any(word in key.upper() for word in ("PASSWORD", "SECRET", "TOKEN")) and not key.endswith(
                "_URL"
            ):
                assert key.endswith("_FILE") and value.startswith("/run/secrets/"), (record.name, key)
    for record in manifest.of_type(SECRET_TYPE):
        assert record.secret_inputs == ["data"], record.name
        assert is_secret(record.inputs["data"])


def test_admin_uis_only_through_the_gateway_behind_identity(manifest, groups):
    records = services(manifest)
    specs = {s.name: s for s in all_specs(groups)}
    published = {name for name, r in records.items() if r.inputs.get("endpointSpec", {}).get("ports")}
    assert published <= {"caddy", "traefik"}
    for name in ADMIN_SERVICES:
        assert name in records, name
        assert specs[name].route is not None and specs[name].route.protected, name
    caddy = records["caddy"]
    caddyfile = next(
        base64.b64decode(r.inputs["data"]).decode()
        for r in manifest.of_type(CONFIG)
        if r.inputs["name"].startswith(f"{PREFIX}-caddy-caddyfile-")
    )
    for name in ADMIN_SERVICES:
        assert f"reverse_proxy {name}:{specs[name].route.port}" in caddyfile
    assert {p["publishedPort"] for p in caddy.inputs["endpointSpec"]["ports"]} == {80, 443}


def test_loader_runs_after_postgis_and_before_ontop(manifest, config):
    records = services(manifest)
    loader, postgis = records["semantic-loader"], records["postgis"]
    assert postgis.urn in loader.dependencies
    labels = {i["label"]: i["value"] for i in loader.inputs["labels"]}
    assert labels["deepcube.mode"] == "job"
    assert loader.inputs["taskSpec"]["containerSpec"]["commands"] == ["load-cubes"]  # waits with pg_isready
    for cube in config.data.cubes:
        ontop = records["ontop-" + cube.id.replace("_", "-")]
        assert loader.urn in ontop.dependencies
        assert (
            'until [ -s "$ONTOP_MAPPING_FILE" ]' in ontop.inputs["taskSpec"]["containerSpec"]["commands"][2]
        )
    for job in ("kratos-migrate", "hydra-migrate"):
        assert records["identity-db"].urn in records[job].dependencies


def test_configs_are_content_named(manifest):
    for record in manifest.of_type(CONFIG):
        assert (
            record.inputs["name"].rsplit("-", 1)[1].isalnum()
            and len(record.inputs["name"].rsplit("-", 1)[1]) == 12
        )


def test_homepage_lists_exactly_the_routed_modules_and_the_use_cases(manifest, groups):
    page = homepage(manifest)
    for spec in all_specs(groups):
        if spec.homepage is not None:
            assert f'data-module="{spec.name}"' in page
    routed = sum(1 for s in all_specs(groups) if s.homepage)
    assert page.count('class="card"') == routed + len(USE_CASES)


TOGGLES = [
    ("monitoring", {"prometheus", "grafana", "node-exporter", "cadvisor"}),
    ("logs", {"opensearch", "opensearch-dashboards", "logstash", "filebeat"}),
    ("portainer", {"portainer", "portainer-agent", "portainer-sso"}),
    ("social_media", {"social-api", "social-worker"}),
]


SOCIAL_IMAGES = {
    "api_image": "registry.example.org/deepcube/social-media-api:1.0.0",
    "worker_image": "registry.example.org/deepcube/social-media-harvester:1.0.0",
}


def _caddyfile(manifest: Manifest) -> str:
    return next(
        base64.b64decode(r.inputs["data"]).decode()
        for r in manifest.of_type(CONFIG)
        if r.inputs["name"].startswith(f"{PREFIX}-caddy-caddyfile-")
    )


@pytest.mark.parametrize(("module", "members"), TOGGLES, ids=[t[0] for t in TOGGLES])
def test_toggling_a_module_changes_both_swarm_and_homepage(module, members, manifest, tmp_path, stack):
    """Flip `enabled` in the stack value: the services and the homepage cards appear or vanish together."""
    value = services_value(stack)
    section = value.setdefault(module, {})
    was_enabled = section.get("enabled", module != "social_media")
    section["enabled"] = not was_enabled
    if module == "social_media" and not was_enabled:
        section.update(SOCIAL_IMAGES)
    toggled = evaluate_services(tmp_path, value)
    on, off = (manifest, toggled) if was_enabled else (toggled, manifest)
    assert set(services(on)) - set(services(off)) == members
    for name in members:
        routed = f'data-module="{name}"' in homepage(on)
        assert f'data-module="{name}"' not in homepage(off)
        assert f"{name}:" not in _caddyfile(off)
        if routed:
            assert f"reverse_proxy {name}:" in _caddyfile(on)


def test_postgis_runs_with_the_bulk_load_settings_the_bench_measures(manifest):
    container = services(manifest)["postgis"].inputs["taskSpec"]["containerSpec"]
    assert container["args"] == ["postgres", "-c", "wal_level=minimal", "-c", "max_wal_senders=0"]
    assert "commands" not in container  # the image's entrypoint still initialises the database
