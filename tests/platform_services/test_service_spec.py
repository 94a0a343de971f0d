"""ServiceSpec rules, checked without Pulumi."""

from __future__ import annotations

import pytest

from components.service_spec import (
    Healthcheck,
    HomepageEntry,
    HttpRoute,
    Port,
    Resources,
    ServiceSpec,
    SpecError,
    check_pinned_image,
    content_name,
    service_labels,
)

BASE = dict(
    name="svc",
    image="nginx:1.27.2",
    resources=Resources(0.5, 128),
    networks=("edge",),
    constraints=("node.role==worker",),
    healthcheck=Healthcheck(("CMD", "true")),
)


def spec(**changes) -> ServiceSpec:
    return ServiceSpec(**{**BASE, **changes})


@pytest.mark.parametrize(
    "image",
    [
        "nginx:1.27.2",
        "ghcr.io/org/app:v3.1.6",
        "localhost:5000/app:0.1",
        "postgis/postgis:16-3.4",
        "nginx@sha256:" + "0" * 64,
    ],
)
def test_pinned_images_pass(image):
    assert check_pinned_image(image) == image


@pytest.mark.parametrize(
    "image",
    [
        "nginx",
        "nginx:latest",
        "nginx:LATEST",
        "localhost:5000/app",
        "nginx@sha256:abc",
        "ghcr.io/org/app:main",
    ],
)
def test_unpinned_images_are_rejected(image):
    with pytest.raises(SpecError, match="svc: image"):
        check_pinned_image(image, service="svc")


def test_healthcheck_or_a_reason_exactly_one():
    with pytest.raises(SpecError, match="exactly one of healthcheck or no_healthcheck_reason"):
        spec(healthcheck=None)
    with pytest.raises(SpecError, match="exactly one"):
        spec(no_healthcheck_reason="because")
    assert spec(healthcheck=None, no_healthcheck_reason="distroless image").no_healthcheck_reason


def test_placement_networks_and_job_rules():
    with pytest.raises(SpecError, match="placement constraints are required"):
        spec(constraints=())
    with pytest.raises(SpecError, match="at least one network"):
        spec(networks=())
    with pytest.raises(SpecError, match="a job runs once"):
        spec(mode="job", ports=(Port(80, 80),), healthcheck=None, no_healthcheck_reason="job")
    with pytest.raises(SpecError, match="global services have no replica count"):
        spec(mode="global", replicas=3)
    with pytest.raises(SpecError, match="needs a route"):
        spec(homepage=HomepageEntry("T", "D", "X", "data"))


def test_resources_reservations_within_limits():
    with pytest.raises(SpecError, match="reservations"):
        Resources(cpu_limit=0.5, memory_limit_mb=128, memory_reservation_mb=256)


def test_route_paths_are_clean():
    assert HttpRoute("/grafana", 3000, roles=("admin",)).path == "/grafana"
    for bad in ("grafana", "/grafana/", "/Grafana", "/"):
        with pytest.raises(SpecError, match="route path"):
            HttpRoute(bad, 3000, roles=("admin",))


def test_protected_routes_name_known_roles():
    with pytest.raises(SpecError, match="protected route /grafana names no role"):
        HttpRoute("/grafana", 3000)
    with pytest.raises(SpecError, match="unknown roles \\['admni'\\]"):
        HttpRoute("/grafana", 3000, roles=("admni",))
    with pytest.raises(SpecError, match="public route /auth names roles"):
        HttpRoute("/auth", 3000, protected=False, roles=("admin",))
    assert HttpRoute("/auth", 3000, protected=False).roles == ()


def test_admin_modules_admit_only_admin_and_are_labelled():
    grafana = HttpRoute("/grafana", 3000, roles=("admin", "scientist"))
    with pytest.raises(SpecError, match="svc: an admin UI is a protected route for the roles \\('admin',\\)"):
        spec(route=grafana, exposes="admin-ui")
    with pytest.raises(SpecError, match="a user workload cannot also expose an admin-api"):
        spec(exposes="admin-api", workload="user")
    admin = spec(route=HttpRoute("/grafana", 3000, roles=("admin",)), exposes="admin-ui")
    assert service_labels(admin)["deepcube.exposes"] == "admin-ui"
    assert service_labels(admin)["deepcube.route.roles"] == "admin"
    notebook = spec(route=HttpRoute("/jupyter", 8888, roles=("admin", "scientist")), workload="user")
    assert service_labels(notebook)["deepcube.workload"] == "user"
    assert service_labels(notebook)["deepcube.route.roles"] == "admin,scientist"


def test_content_names_follow_content():
    first = content_name("deepcube-ovh", "caddy-caddyfile", "a")
    assert first == content_name("deepcube-ovh", "caddy-caddyfile", "a")
    assert first != content_name("deepcube-ovh", "caddy-caddyfile", "b")
    assert first.startswith("deepcube-ovh-caddy-caddyfile-") and len(first.rsplit("-", 1)[1]) == 12
