"""Access invariants over the real ovh plan: each injected fault is named by `infra.plan check` in one
line; the real stacks pass; near misses (references to secrets, schema keys) are not reported."""

from __future__ import annotations

import base64
import dataclasses
import subprocess
import sys
from collections.abc import Callable

import pytest
import typer

from infra import plan
from infra.invariants.access import (
    CONFIGS_POLICY,
    ISOLATION_POLICY,
    ROUTES_POLICY,
    credentials_in,
    parse_routes,
)
from infra.invariants.topology import DOCKER_CONFIG, DOCKER_NETWORK, DOCKER_SERVICE
from infra.manifest import Manifest, ResourceRecord
from infra.offline import evaluate
from infra.stack_files import REPO_ROOT

ACCESS_POLICIES = (ROUTES_POLICY, ISOLATION_POLICY, CONFIGS_POLICY)


@pytest.fixture(scope="module")
def ovh() -> Manifest:
    return evaluate("ovh")


def service(manifest: Manifest, name: str) -> ResourceRecord:
    (record,) = [
        r
        for r in manifest.of_type(DOCKER_SERVICE)
        if {"label": "deepcube.service", "value": name} in r.inputs["labels"]
    ]
    return record


def network(manifest: Manifest, logical: str) -> ResourceRecord:
    (record,) = [r for r in manifest.of_type(DOCKER_NETWORK) if r.inputs["name"].endswith(f"-{logical}")]
    return record


def config(manifest: Manifest, key: str) -> ResourceRecord:
    (record,) = [r for r in manifest.of_type(DOCKER_CONFIG) if r.name.endswith(f"-config-{key}")]
    return record


def text_of(record: ResourceRecord) -> str:
    return base64.b64decode(record.inputs["data"]).decode()


def replaced(manifest: Manifest, old: ResourceRecord, new: ResourceRecord) -> Manifest:
    resources = [new if r.urn == old.urn else r for r in manifest.resources]
    return Manifest(manifest.project, manifest.stack, resources)


def with_config_text(manifest: Manifest, key: str, edit: Callable[[str], str]) -> Manifest:
    record = config(manifest, key)
    text = edit(text_of(record))
    assert text != text_of(record), "the fault was not injected"
    data = base64.b64encode(text.encode()).decode()
    return replaced(manifest, record, dataclasses.replace(record, inputs={**record.inputs, "data": data}))


def joining(manifest: Manifest, name: str, logical: str) -> Manifest:
    """The service also joins a network: the dependency the plan records for its `networksAdvanceds`."""
    record, net = service(manifest, name), network(manifest, logical)
    deps = dict(record.property_dependencies)
    deps["taskSpec"] = [*deps.get("taskSpec", []), net.urn]
    return replaced(manifest, record, dataclasses.replace(record, property_dependencies=deps))


def check_lines(
    manifest: Manifest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> list[str]:
    """What `python -m infra.plan check ovh` prints for this plan (the command, with the plan swapped)."""
    monkeypatch.setattr(plan, "evaluate", lambda *args, **kwargs: manifest)
    with pytest.raises(typer.Exit) as exit_info:
        plan.check("ovh", None)
    assert exit_info.value.exit_code == 1
    return capsys.readouterr().out.splitlines()


def where(record: ResourceRecord) -> str:
    return record.urn.rsplit("::", 1)[-1]


def test_the_real_plan_passes_the_access_policies(ovh):
    from infra.policies import STACK_POLICIES
    from infra.policy_model import PolicyContext, PolicySettings

    ctx = PolicyContext(stack="ovh", settings=PolicySettings(), stack_config={})
    for name in ACCESS_POLICIES:
        assert STACK_POLICIES[name](ovh.resources, ctx) == [], name


def test_an_admin_module_opened_to_scientists_is_named(ovh, monkeypatch, capsys):
    fault = with_config_text(
        ovh,
        "caddyfile",
        lambda t: t.replace(
            "import identity admin\n\t\treverse_proxy portainer",
            "import identity admin,scientist\n\t\treverse_proxy portainer",
        ),
    )
    portainer = where(service(ovh, "portainer"))
    assert check_lines(fault, monkeypatch, capsys) == [
        f"ovh: {ROUTES_POLICY}: {portainer}: route /portainer to portainer (an admin module) admits "
        "admin,scientist, not only admin"
    ]


def test_an_ungated_admin_module_is_named(ovh, monkeypatch, capsys):
    fault = with_config_text(
        ovh,
        "caddyfile",
        lambda t: t.replace("import identity admin\n\t\treverse_proxy grafana", "reverse_proxy grafana"),
    )
    grafana = where(service(ovh, "grafana"))
    assert check_lines(fault, monkeypatch, capsys) == [
        f"ovh: {ROUTES_POLICY}: {grafana}: route /grafana to grafana is not gated, anyone opens it; "
        "its spec admits only admin"
    ]


def test_a_gate_without_roles_and_a_gate_drifting_from_the_spec_are_named(ovh, monkeypatch, capsys):
    fault = with_config_text(
        ovh,
        "caddyfile",
        lambda t: t.replace(
            "import identity admin,scientist\n\t\treverse_proxy jupyter",
            "import identity\n\t\treverse_proxy jupyter",
        ).replace(
            "import identity admin,scientist\n\t\treverse_proxy sextant",
            "import identity admin\n\t\treverse_proxy sextant",
        ),
    )
    lines = check_lines(fault, monkeypatch, capsys)
    caddyfile = where(config(ovh, "caddyfile"))
    assert (
        f"ovh: {ROUTES_POLICY}: {caddyfile}: route /jupyter is gated but names no role that may open it"
        in lines
    )
    assert (
        f"ovh: {ROUTES_POLICY}: {where(service(ovh, 'sextant'))}: route /sextant to sextant admits admin; "
        "its spec admits admin,scientist"
    ) in lines
    assert all(line.startswith(f"ovh: {ROUTES_POLICY}: ") for line in lines)


def test_a_user_workload_next_to_admin_uis_is_named(ovh, monkeypatch, capsys):
    lines = check_lines(joining(ovh, "jupyter", "admin"), monkeypatch, capsys)
    jupyter = where(service(ovh, "jupyter"))
    assert lines == [
        f"ovh: {ISOLATION_POLICY}: {jupyter}: user workload jupyter shares network "
        f"deepcube-platform-ovh-admin with {name} (admin-ui)"
        for name in ("grafana", "opensearch-dashboards", "portainer", "prometheus")
    ]


def test_a_user_workload_next_to_the_identity_admin_apis_is_named(ovh, monkeypatch, capsys):
    lines = check_lines(joining(ovh, "dask-worker", "identity"), monkeypatch, capsys)
    worker = where(service(ovh, "dask-worker"))
    assert lines == [
        f"ovh: {ISOLATION_POLICY}: {worker}: user workload dask-worker shares network "
        f"deepcube-platform-ovh-identity with {name} (admin-api)"
        for name in ("hydra", "identity-db", "kratos")
    ]


def test_a_password_in_a_swarm_config_is_named_without_revealing_it(ovh, monkeypatch, capsys):
    fault = with_config_text(
        ovh,
        "kratos-yml",
        lambda t: t.replace(
            "    from_address:",
            "    connection_uri: smtps://postmaster:hunter2@mail.example.org:465/\n    from_address:",
        ),
    )
    record = config(ovh, "kratos-yml")
    lines = check_lines(fault, monkeypatch, capsys)
    assert lines == [
        f"ovh: {CONFIGS_POLICY}: {where(record)}: config {record.inputs['name']} holds a smtps:// URI with a "
        "password (smtps://postmaster:h***@mail.example.org:465); hand it over as a Docker secret"
    ]
    assert "hunter2" not in "\n".join(lines)


def test_a_password_key_in_a_swarm_config_is_named(ovh, monkeypatch, capsys):
    fault = with_config_text(
        ovh,
        "datasources",
        lambda t: t.replace("  access: proxy", "  access: proxy\n  basicAuthPassword: s3cret"),
    )
    [line] = check_lines(fault, monkeypatch, capsys)
    assert line.startswith(f"ovh: {CONFIGS_POLICY}: {where(config(ovh, 'datasources'))}: config ")
    assert line.endswith("holds a value for 'basicAuthPassword' (s***); hand it over as a Docker secret")


def test_a_literal_password_in_the_logstash_pipeline_is_named(ovh, monkeypatch, capsys):
    """Logstash writes `key => value`: its password is an environment reference until someone inlines it."""
    fault = with_config_text(
        ovh, "pipeline", lambda t: t.replace('password => "${LOGSTASH_PASSWORD}"', 'password => "hunter2"')
    )
    [line] = check_lines(fault, monkeypatch, capsys)
    assert line.startswith(f"ovh: {CONFIGS_POLICY}: {where(config(ovh, 'pipeline'))}: config ")
    assert line.endswith("holds a value for 'password' (h***); hand it over as a Docker secret")
    assert "hunter2" not in line


@pytest.mark.parametrize(
    "text",
    [
        '{"password": {"identifier": true}}',  # Kratos' identity schema
        "methods:\n  password:\n    enabled: true\n",  # Kratos' config
        "POSTGRES_PASSWORD_FILE: /run/secrets/identity_db_password\n",
        "dsn: postgres://ory:$(cat /run/secrets/identity_db_password)@identity-db:5432/kratos\n",
        "password: ${GF_PASSWORD}\n",
        '    password => "${LOGSTASH_PASSWORD}"\n',  # a Logstash pipeline
        "opensearch.password: ${OSD_KIBANASERVER_PASSWORD}\n",  # OpenSearch Dashboards
        "jdbc.user=deepcube\njdbc.url=jdbc:postgresql://postgis:5432/cubes\n",
        "smtp://mail.invalid:25/?disable_starttls=true",
        'FORWARDED = ("Cookie", "X-Session-Token")',
    ],
)
def test_references_to_credentials_are_not_credentials(text):
    assert list(credentials_in(text)) == []


def test_routes_are_read_with_their_gates_and_nested_blocks():
    caddyfile = "\n".join(
        [
            "example.org {",
            "\thandle /hopsworks/* {",
            "\t\timport identity admin,scientist",
            "\t\treverse_proxy {$HOPSWORKS_UPSTREAM} {",
            "\t\t\ttransport http {",
            "\t\t\t\ttls_insecure_skip_verify",
            "\t\t\t}",
            "\t\t}",
            "\t}",
            "\thandle_path /auth/* {",
            "\t\treverse_proxy kratos-ui:3000",
            "\t}",
            "}",
        ]
    )
    routes = parse_routes(caddyfile, "urn")
    assert [(r.path, r.upstream, r.roles) for r in routes] == [
        ("/hopsworks", "{$HOPSWORKS_UPSTREAM}", ("admin", "scientist")),
        ("/auth", "kratos-ui:3000", None),
    ]


def run_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "infra.plan", "check", *args], cwd=REPO_ROOT, capture_output=True, text=True
    )


@pytest.mark.parametrize("stack", ["ovh", "creodias"])
def test_check_reports_no_access_violation_on_the_real_stacks(stack):
    result = run_check(stack)
    assert "violation(s)" in result.stderr, result.stderr
    assert not [line for line in result.stdout.splitlines() if any(p in line for p in ACCESS_POLICIES)]


def test_an_smtp_password_in_the_services_config_is_refused():
    value = '{smtp_uri: "smtps://postmaster:hunter2@mail.example.org/"}'
    result = run_check("ovh", "--set", f"services.identity={value}")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "it is the stack secret smtp_uri, not a services key" in line
    assert "hunter2" not in line
