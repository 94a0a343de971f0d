"""Identity as declared: accounts only by administrators, roles at the gateway, admin APIs out of reach
of user code, and the SMTP credential only ever a Docker secret. Both stacks."""

from __future__ import annotations

import base64
import json

import yaml

from components.catalogue import all_specs
from components.catalogue.gatekeeper import SOURCE, TARGET
from components.render.identity import SMTP_URI_ENV, render_kratos
from components.roles import ADMIN_ONLY, USER_MODULE
from tests.platform_services.conftest import PREFIX

SERVICE = "docker:index/service:Service"
CONFIG = "docker:index/serviceConfig:ServiceConfig"
SECRET = "docker:index/secret:Secret"

KRATOS_V1_2_KEYS = {
    "version",
    "serve.public.base_url",
    "serve.public.cors.enabled",
    "serve.admin.base_url",
    "selfservice.default_browser_return_url",
    "selfservice.allowed_return_urls",
    "selfservice.methods.password.enabled",
    "selfservice.methods.code.enabled",
    "selfservice.flows.error.ui_url",
    "selfservice.flows.settings.ui_url",
    "selfservice.flows.settings.privileged_session_max_age",
    "selfservice.flows.recovery.enabled",
    "selfservice.flows.recovery.use",
    "selfservice.flows.recovery.ui_url",
    "selfservice.flows.verification.enabled",
    "selfservice.flows.verification.use",
    "selfservice.flows.verification.ui_url",
    "selfservice.flows.logout.after.default_browser_return_url",
    "selfservice.flows.login.ui_url",
    "selfservice.flows.login.lifespan",
    "selfservice.flows.registration.enabled",
    "selfservice.flows.registration.ui_url",
    "session.lifespan",
    "session.cookie.same_site",
    "log.level",
    "log.format",
    "hashers.algorithm",
    "hashers.bcrypt.cost",
    "identity.default_schema_id",
    "identity.schemas",
    "courier.smtp.from_address",
    "oauth2_provider.url",
}
"""Every key the rendered config may use, each checked against Kratos' configuration schema
(ory/kratos `embedx/config.schema.json`): adding a key means checking it there first."""


def leaf_keys(value: object, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        return {k for key, sub in value.items() for k in leaf_keys(sub, f"{prefix}{key}.")}
    return {prefix.rstrip(".")}


def test_kratos_refuses_sign_ups_and_invites_by_recovery_code():
    config = yaml.safe_load(render_kratos("https://p.example.org", "no-reply@p.example.org"))
    flows = config["selfservice"]["flows"]
    assert flows["registration"]["enabled"] is False
    assert "after" not in flows["registration"]  # no session handed out on sign-up
    assert (flows["recovery"]["enabled"], flows["recovery"]["use"]) == (True, "code")
    assert config["selfservice"]["methods"]["code"]["enabled"] is True
    assert leaf_keys(config) <= KRATOS_V1_2_KEYS, leaf_keys(config) - KRATOS_V1_2_KEYS
    assert "connection_uri" not in config["courier"]["smtp"]  # only from the environment (a secret)


def test_roles_live_outside_the_users_own_traits():
    from components.render.identity import render_identity_schema

    traits = json.loads(render_identity_schema())["properties"]["traits"]
    assert "role" not in traits["properties"]
    assert traits["additionalProperties"] is False


def test_every_protected_route_names_its_roles(groups):
    routed = {s.name: s.route for s in all_specs(groups) if s.route is not None}
    for name in ("portainer", "grafana", "prometheus", "opensearch-dashboards"):
        assert routed[name].roles == ADMIN_ONLY, name
    for name in ("jupyter", "dask-scheduler", "sextant", "social-api"):
        assert name not in routed or routed[name].roles == USER_MODULE, name
    assert routed["jupyter-proxy"].roles == USER_MODULE
    assert all(route.roles for route in routed.values() if route.protected)


def test_user_workloads_share_no_network_with_admin_services(groups):
    specs = all_specs(groups)
    users = [s for s in specs if s.workload == "user"]
    admins = [s for s in specs if s.exposes is not None]
    assert {"jupyter", "dask-scheduler", "dask-worker"} <= {s.name for s in users}
    assert {"kratos", "hydra", "identity-db", "portainer", "grafana", "prometheus"} <= {
        s.name for s in admins
    }
    for user in users:
        for admin in admins:
            assert not set(user.networks) & set(admin.networks), (user.name, admin.name)


def test_identity_services_stay_on_the_identity_network(groups):
    for spec in groups["identity"]:
        assert spec.networks == ("identity",), spec.name
    (caddy,) = [s for s in groups["gateway"] if s.name == "caddy"]
    assert {"edge", "identity", "admin"} <= set(caddy.networks)


def test_the_gatekeeper_runs_the_repository_program_unprivileged(groups):
    (keeper,) = [s for s in groups["identity"] if s.name == "gatekeeper"]
    (program,) = keeper.configs
    assert (program.target, program.content) == (TARGET, SOURCE.read_text())
    assert keeper.command == ("python", "-I", TARGET)
    assert keeper.user == "65534:65534" and keeper.replicas == 2


def _services(manifest) -> dict:
    return {r.inputs["name"].removeprefix(f"{PREFIX}-"): r for r in manifest.of_type(SERVICE)}


def test_the_smtp_uri_reaches_kratos_only_as_a_secret(manifest):
    kratos = _services(manifest)["kratos"].inputs["taskSpec"]["containerSpec"]
    mounted = {s["fileName"] for s in kratos["secrets"]}
    assert "kratos_smtp_uri" in mounted
    script = kratos["commands"][2]
    assert f'export {SMTP_URI_ENV}="$(cat /run/secrets/kratos_smtp_uri)"' in script
    assert not any("SMTP" in key for key in kratos.get("env", {}))
    [secret] = [r for r in manifest.of_type(SECRET) if r.name.endswith("-secret-kratos-smtp-uri")]
    assert secret.secret_inputs == ["data"]
    for record in manifest.of_type(CONFIG):
        text = base64.b64decode(record.inputs["data"]).decode()
        if record.inputs["name"].startswith(f"{PREFIX}-kratos-"):
            assert "smtp://" not in text and "smtps://" not in text, record.name
