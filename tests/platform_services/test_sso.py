"""Single sign-on as declared: the ORY configs against ORY's schemas, every module's OAuth settings
pointing at the platform's issuer, the client registration script run against a stand-in `hydra`
CLI, and the consent and Portainer programs against loopback stand-ins of the APIs they call."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import yaml

from components.catalogue import all_specs
from components.catalogue.hub import JUPYTER_CLIENT
from components.catalogue.identity import MACHINE_CLIENTS, consent_url
from components.oidc import ClientError, OidcClient, issuer
from components.render.hydra import render_registration_script
from components.render.identity import render_identity_schema
from components.render.sso import GRAFANA_ROLE_PATH
from tests.platform_services.conftest import stack_context
from tests.platform_services.identity_standins import get, serve
from tests.platform_services.ory_schemas import HYDRA_V2_2, KRATOS_TRAIT_EXTENSION, KRATOS_V1_2

ROOT = Path(__file__).resolve().parents[2]
CHECKER = jsonschema.Draft7Validator.FORMAT_CHECKER


def specs_by_name(groups) -> dict:
    return {s.name: s for s in all_specs(groups)}


def config_of(spec, key: str) -> str:
    (found,) = [c.content for c in spec.configs if c.key == key]
    return found


# --- configuration files against ORY's schemas ---------------------------------------------------


def test_kratos_config_is_valid_for_kratos_v1_2_and_hands_logins_to_hydra(groups):
    kratos = specs_by_name(groups)["kratos"]
    config = yaml.safe_load(config_of(kratos, "kratos-yml"))
    jsonschema.validate(config, KRATOS_V1_2, format_checker=CHECKER)
    assert config["oauth2_provider"] == {"url": "http://hydra:4445"}
    with pytest.raises(jsonschema.ValidationError):  # the schema is strict: a misspelt key fails
        jsonschema.validate({**config, "oauth2_provder": {}}, KRATOS_V1_2, format_checker=CHECKER)


def test_identity_schema_is_draft_07_with_kratos_extensions_only_where_kratos_reads_them():
    schema = json.loads(render_identity_schema())
    jsonschema.Draft7Validator.check_schema(schema)
    email = schema["properties"]["traits"]["properties"]["email"]
    jsonschema.validate(email["ory.sh/kratos"], KRATOS_TRAIT_EXTENSION)
    identity = {"traits": {"email": "ana@example.org", "name": "Ana"}}
    jsonschema.validate(identity, schema, format_checker=CHECKER)
    with pytest.raises(jsonschema.ValidationError):  # no self-chosen role in the traits
        jsonschema.validate({"traits": {"email": "a@example.org", "role": "admin"}}, schema)


def test_hydra_config_is_valid_for_hydra_v2_2_with_kratos_as_login_and_the_consent_service(config, groups):
    hydra = specs_by_name(groups)["hydra"]
    document = yaml.safe_load(config_of(hydra, "hydra-yml"))
    jsonschema.validate(document, HYDRA_V2_2, format_checker=CHECKER)
    base = f"https://{config.domain}"
    assert document["urls"]["self"]["issuer"] == f"{base}/oauth2/"
    assert document["urls"]["login"] == f"{base}/auth/login"  # the Kratos UI, Hydra's login provider
    assert document["urls"]["consent"] == f"{base}/consent/"
    assert "role" in document["webfinger"]["oidc_discovery"]["supported_claims"]
    assert hydra.command[-1].endswith("hydra serve all -c /etc/config/hydra/hydra.yml")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**document, "urls": {**document["urls"], "loginn": "x"}}, HYDRA_V2_2)


# --- every module points at the platform's issuer --------------------------------------------------


def test_every_sign_in_module_has_exactly_one_client_on_the_stack_domain(groups, config):
    specs = all_specs(groups)
    clients = [s.oidc_client for s in specs if s.oidc_client is not None]
    assert sorted(c.client_id for c in clients) == [
        "grafana",
        "jupyter",
        "opensearch-dashboards",
        "portainer",
    ]
    (job,) = [s for s in specs if s.name == "hydra-clients"]
    manifest = json.loads(config_of(job, "clients-json"))
    assert manifest["issuer"] == f"https://{config.domain}/oauth2/"
    registered = [c["client_id"] for c in manifest["clients"]]
    assert sorted(registered) == sorted(
        [*(c.client_id for c in clients), *(m.client_id for m in MACHINE_CLIENTS)]
    )
    for entry in manifest["clients"]:
        assert all(uri.startswith(f"https://{config.domain}/") for uri in entry["redirect_uris"])
        assert entry["secret_file"].startswith("/run/secrets/oidc_")
        assert "client_secret" not in entry
    job_secrets = {s.key for s in job.secrets}
    for spec in specs:
        if spec.oidc_client is not None:
            assert spec.oidc_client.secret_key in {s.key for s in spec.secrets} & job_secrets, spec.name


def test_grafana_signs_in_at_the_issuer_and_maps_platform_roles(groups, config):
    grafana = specs_by_name(groups)["grafana"]
    env = grafana.env
    iss = f"https://{config.domain}/oauth2/"
    assert env["GF_AUTH_GENERIC_OAUTH_AUTH_URL"] == iss + "oauth2/auth"
    assert env["GF_AUTH_GENERIC_OAUTH_TOKEN_URL"] == iss + "oauth2/token"
    assert env["GF_AUTH_GENERIC_OAUTH_API_URL"] == iss + "userinfo"
    assert env["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET__FILE"] == "/run/secrets/oidc_grafana_client_secret"
    assert env["GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_STRICT"] == "true"
    assert env["GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH"] == GRAFANA_ROLE_PATH
    assert "role" in env["GF_AUTH_GENERIC_OAUTH_SCOPES"].split()
    assert not any("SECRET" in k and not k.endswith("__FILE") for k in env)


def jmespath_role(role: str | None) -> Any:
    """GRAFANA_ROLE_PATH evaluated the way JMESPath does for these two comparisons."""
    match = re.fullmatch(r"role == '(\w+)' && '(\w+)' \|\| role == '(\w+)' && '(\w+)'", GRAFANA_ROLE_PATH)
    assert match, GRAFANA_ROLE_PATH
    first, first_role, second, second_role = match.groups()
    return first_role if role == first else second_role if role == second else False


def test_grafana_role_mapping_admits_admins_as_admin_scientists_as_viewers_and_no_one_else():
    assert jmespath_role("admin") == "Admin"
    assert jmespath_role("scientist") == "Viewer"
    assert jmespath_role(None) is False and jmespath_role("guest") is False  # strict: refused


def test_portainer_is_claimed_by_the_platform_and_its_oauth_points_at_the_issuer(groups, config):
    specs = specs_by_name(groups)
    portainer, job = specs["portainer"], specs["portainer-sso"]
    assert "--admin-password-file" in portainer.args
    settings = json.loads(config_of(job, "oauth-settings"))
    iss = f"https://{config.domain}/oauth2/"
    assert settings["AuthorizationURI"] == iss + "oauth2/auth"
    assert settings["AccessTokenURI"] == iss + "oauth2/token"
    assert settings["ResourceURI"] == iss + "userinfo"
    assert settings["RedirectURI"] == f"https://{config.domain}/portainer/"
    assert settings["ClientID"] == "portainer" and "ClientSecret" not in settings
    assert job.mode == "job" and {s.key for s in job.secrets} == {
        "portainer_admin_password",
        "oidc_portainer_client_secret",
    }


def test_opensearch_dashboards_signs_in_with_its_client_and_stays_behind_the_gateway_check(groups):
    """The details (settings, OpenSearch's security files) are in test_logs_security."""
    dashboards = specs_by_name(groups)["opensearch-dashboards"]
    assert dashboards.oidc_client is not None and dashboards.oidc_client.client_id == "opensearch-dashboards"
    assert "DISABLE_SECURITY_DASHBOARDS_PLUGIN" not in dashboards.env  # the security plugin is on
    assert "DISABLE_SECURITY_PLUGIN" not in specs_by_name(groups)["opensearch"].env
    assert dashboards.route.roles == ("admin",) and dashboards.route.protected


JUPYTERHUB_TRAITS = {
    "JupyterHub": {
        "base_url",
        "hub_bind_url",
        "hub_connect_url",
        "db_url",
        "cookie_secret_file",
        "authenticator_class",
        "spawner_class",
    },
    "ConfigurableHTTPProxy": {"should_start", "api_url"},
    "GenericOAuthenticator": {
        "client_id",
        "oauth_callback_url",
        "authorize_url",
        "token_url",
        "userdata_url",
        "scope",
        "username_claim",
        "manage_groups",
        "auth_state_groups_key",
        "allowed_groups",
        "admin_groups",
    },
    "SwarmSpawner": {
        "network_name",
        "extra_placement_spec",
        "name_template",
        "volumes",
        "notebook_dir",
        "cmd",
        "default_url",
        "cpu_limit",
        "mem_limit",
        "pre_spawn_hook",
    },
}
"""Configurable traits of JupyterHub 5.2.1, OAuthenticator 17.1.0 and DockerSpawner 13.0.0 (read
from the installed packages' `class_traits(config=True)`) that the platform's config sets."""


class Recorder:
    """Stands in for traitlets' config object: records every `c.Section.key = value`."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}

    def __getattr__(self, section: str) -> Any:
        values = self.values.setdefault(section, {})

        class Section:
            def __setattr__(self, key: str, value: Any) -> None:
                values[key] = value

            def __getattr__(self, key: str) -> Any:
                return values[key]

        return Section()


def hub_config(groups) -> dict[str, dict[str, Any]]:
    recorder = Recorder()
    exec(
        config_of(specs_by_name(groups)["jupyterhub"], "jupyterhub-config"), {"get_config": lambda: recorder}
    )
    return recorder.values


def test_jupyterhub_signs_in_at_the_issuer_with_roles_as_groups_and_spawns_per_person(groups, config):
    c = hub_config(groups)
    for section, keys in c.items():
        assert set(keys) <= JUPYTERHUB_TRAITS[section], (section, set(keys))
    auth = c["GenericOAuthenticator"]
    iss = f"https://{config.domain}/oauth2/"
    assert (auth["authorize_url"], auth["token_url"], auth["userdata_url"]) == (
        iss + "oauth2/auth",
        iss + "oauth2/token",
        iss + "userinfo",
    )
    assert auth["oauth_callback_url"] == f"https://{config.domain}/jupyter/hub/oauth_callback"
    assert auth["allowed_groups"] == {"admin", "scientist"} and auth["admin_groups"] == {"admin"}
    assert auth["auth_state_groups_key"]({"oauth_user": {"role": "scientist"}}) == ["scientist"]
    assert auth["auth_state_groups_key"]({"oauth_user": {}}) == []
    spawner = c["SwarmSpawner"]
    assert spawner["network_name"] == "deepcube-test-data"
    assert spawner["volumes"] == {"deepcube-test-jupyter-home-{username}": "/home/jovyan/work"}
    assert spawner["extra_placement_spec"] == {"constraints": ["node.labels.deepcube.node==data-0"]}
    hub = specs_by_name(groups)["jupyterhub"]
    assert hub.oidc_client == JUPYTER_CLIENT
    assert 'OAUTH_CLIENT_SECRET="$(cat /run/secrets/oidc_jupyter_client_secret)"' in hub.command[2]


def test_each_server_gets_exactly_the_wiring_of_the_declared_template(groups):
    """The hook copies the template service as Docker reports it (the data services' wiring)."""
    template = specs_by_name(groups)["jupyter"]
    assert (template.replicas, template.workload, template.networks) == (0, "user", ("data",))
    assert template.env["DASK_SCHEDULER_ADDRESS"] == "tcp://dask-scheduler:8786"
    assert template.env["AWS_SHARED_CREDENTIALS_FILE"] == "/run/secrets/s3_credentials"
    hook = hub_config(groups)["SwarmSpawner"]["pre_spawn_hook"]
    inspected = {
        "Image": "registry.example.org/deepcube/cube-engine@sha256:" + "a" * 64,
        "Env": ["DASK_SCHEDULER_ADDRESS=tcp://dask-scheduler:8786", "AWS_ENDPOINT_URL=https://s3.x/a=b"],
        "Mounts": [{"Type": "bind", "Source": "/eodata", "Target": "/eodata", "ReadOnly": True}],
        "Secrets": [
            {
                "SecretID": "sid",
                "SecretName": "deepcube-test-s3_credentials-bbb",
                "File": {"Name": "s3_credentials", "UID": "1000", "GID": "1000", "Mode": 256},
            }
        ],
    }

    class Client:
        def inspect_service(self, name):
            assert name == "deepcube-test-jupyter"
            return {"Spec": {"TaskTemplate": {"ContainerSpec": inspected}}}

    class Spawner:
        client = Client()

        def __init__(self) -> None:
            self.volumes = {"deepcube-test-jupyter-home-{username}": "/home/jovyan/work"}
            self.environment: dict = {}

    spawner = Spawner()
    hook(spawner)
    assert spawner.image == inspected["Image"]
    assert spawner.environment == {
        "DASK_SCHEDULER_ADDRESS": "tcp://dask-scheduler:8786",
        "AWS_ENDPOINT_URL": "https://s3.x/a=b",
    }
    assert spawner.volumes["/eodata"] == {"bind": "/eodata", "mode": "ro"}
    (reference,) = spawner.extra_container_spec["secrets"]
    assert (reference["SecretID"], reference["File"]["Name"], reference["File"]["UID"]) == (
        "sid",
        "s3_credentials",
        "1000",
    )


# --- the registration job, run against a stand-in hydra CLI ----------------------------------------

FAKE_HYDRA = r"""#!/bin/sh
# Records each call; `get client ID` succeeds only for clients already registered.
echo "$*" >> "$STATE/calls"
case "$1 $2" in
  "get client") grep -qx "$3" "$STATE/registered" 2>/dev/null ;;
  "import client") f=$(eval echo "\${$#}"); cat "$f" > "$STATE/imported-$(date +%s%N)";
                   sed 's/.*"client_id": "\([^"]*\)".*/\1/' "$f" >> "$STATE/registered";
                   echo >> "$STATE/registered" ;;
  "update client") exit 0 ;;
esac
"""


def test_registration_creates_then_updates_each_client_with_its_secret(tmp_path):
    clients = [
        OidcClient(
            "grafana", "Grafana", redirect_paths=("/grafana/login/generic_oauth",), post_logout_paths=("/",)
        ),
        *MACHINE_CLIENTS,
    ]
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for client in clients:
        (secrets / client.secret_key).write_text(f"S3cr3t{client.client_id}\n")
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    (bin_dir / "hydra").write_text(FAKE_HYDRA)
    (bin_dir / "wget").write_text("#!/bin/sh\nexit 0\n")
    for tool in ("hydra", "wget"):
        (bin_dir / tool).chmod(0o755)
    script = render_registration_script(clients, "https://p.example.org").replace(
        "/run/secrets/", f"{secrets}/"
    )
    assert subprocess.run(["sh", "-n", "-c", script]).returncode == 0
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "STATE": str(state)}
    first = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["created", "grafana", "created", "ci"]
    imported = [json.loads(p.read_text())[0] for p in sorted(state.glob("imported-*"))]
    assert [(c["client_id"], c["client_secret"]) for c in imported] == [
        ("grafana", "S3cr3tgrafana"),
        ("ci", "S3cr3tci"),
    ]
    assert imported[0]["redirect_uris"] == ["https://p.example.org/grafana/login/generic_oauth"]
    assert imported[0]["post_logout_redirect_uris"] == ["https://p.example.org/"]
    assert imported[1]["post_logout_redirect_uris"] == []
    assert imported[1]["grant_types"] == ["client_credentials"] and imported[1]["skip_consent"] is True
    imports = [line for line in (state / "calls").read_text().splitlines() if line.startswith("import")]
    assert imports and not any(Path(line.split()[-1]).exists() for line in imports)  # secret file gone
    second = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True)
    assert second.stdout.split() == ["updated", "grafana", "updated", "ci"]  # idempotent: replaced in place
    calls = (state / "calls").read_text().splitlines()
    update = next(line for line in calls if line.startswith("update client grafana"))
    assert (
        "--secret S3cr3tgrafana" in update
        and "--redirect-uri https://p.example.org/grafana/login/generic_oauth" in update
        and "--post-logout-callback https://p.example.org/" in update
    )
    assert "S3cr3t" not in script


# --- the consent service against stand-ins of Hydra's and Kratos' admin APIs -----------------------


class AdminApis:
    """Hydra's consent endpoints and Kratos' identity endpoint, answering from dictionaries."""

    def __init__(self, requests: dict[str, dict], identities: dict[str, dict]) -> None:
        self.requests, self.identities = requests, identities
        self.accepted: dict[str, dict] = {}
        self.rejected: dict[str, dict] = {}
        apis = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, status: int, body: Any) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                challenge = (parse_qs(url.query).get("consent_challenge") or [""])[0]
                if url.path == "/admin/oauth2/auth/requests/consent" and challenge in apis.requests:
                    self._json(200, apis.requests[challenge])
                elif (
                    url.path.startswith("/admin/identities/")
                    and url.path.rsplit("/", 1)[1] in apis.identities
                ):
                    self._json(200, apis.identities[url.path.rsplit("/", 1)[1]])
                else:
                    self._json(404, {"error": "not found"})

            def do_PUT(self) -> None:
                url = urlsplit(self.path)
                challenge = parse_qs(url.query)["consent_challenge"][0]
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                kind = url.path.rsplit("/", 1)[1]
                (apis.accepted if kind == "accept" else apis.rejected)[challenge] = body
                self._json(
                    200, {"redirect_to": f"https://p.example.org/oauth2/oauth2/auth?consent_verifier={kind}"}
                )

            def log_message(self, *args: Any) -> None:
                pass

        self.server = serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def consent(tmp_path):
    from semantic.local_postgis import free_port
    from tests.services import wait_for_port

    identities = {
        "id-sam": {
            "id": "id-sam",
            "state": "active",
            "traits": {"email": "sam@example.org", "name": "Sam"},
            "verifiable_addresses": [{"value": "sam@example.org", "verified": True}],
            "metadata_public": {"role": "scientist"},
        },
        "id-gone": {"id": "id-gone", "state": "inactive", "traits": {"email": "g@example.org"}},
    }
    client = {"client_id": "jupyter", "skip_consent": True}
    requests = {
        "c-sam": {
            "subject": "id-sam",
            "requested_scope": ["openid", "email", "profile", "role"],
            "client": client,
        },
        "c-gone": {"subject": "id-gone", "requested_scope": ["openid"], "client": client},
        "c-third": {"subject": "id-sam", "requested_scope": ["openid"], "client": {"client_id": "x"}},
    }
    apis = AdminApis(requests, identities)
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HYDRA_ADMIN_URL": apis.url,
        "KRATOS_ADMIN_URL": apis.url,
        "CONSENT_LISTEN": f"127.0.0.1:{port}",
    }
    log = (tmp_path / "consent.log").open("w")
    program = ROOT / "docker" / "sso" / "consent.py"
    process = subprocess.Popen([sys.executable, "-I", str(program)], env=env, stdout=log, stderr=log)
    wait_for_port(port, timeout=20, process=process)
    yield f"http://127.0.0.1:{port}", apis, tmp_path / "consent.log"
    process.terminate()
    process.wait(timeout=10)
    apis.server.shutdown()


@pytest.mark.parametrize(
    ("kwargs", "fault"),
    [
        (
            {"grant_types": ("client_credentials",), "role": "scientist", "post_logout_paths": ("/",)},
            "machine",
        ),
        ({"redirect_paths": ("/cb",), "post_logout_paths": ("https://elsewhere.example/",)}, "site-relative"),
    ],
)
def test_a_client_declaration_against_the_rules_is_refused(kwargs, fault):
    with pytest.raises(ClientError, match=fault):
        OidcClient("module", "Module", **kwargs)


def test_consent_puts_the_role_into_the_id_token_and_the_access_token(consent):
    url, apis, _ = consent
    status, headers, _ = get(f"{url}/consent/?consent_challenge=c-sam")
    assert (status, headers["Location"]) == (
        302,
        "https://p.example.org/oauth2/oauth2/auth?consent_verifier=accept",
    )
    accepted = apis.accepted["c-sam"]
    assert accepted["grant_scope"] == ["openid", "email", "profile", "role"]
    assert accepted["session"]["id_token"] == {
        "email": "sam@example.org",
        "email_verified": True,
        "name": "Sam",
        "role": "scientist",
    }
    assert accepted["session"]["access_token"] == {"role": "scientist"}
    assert accepted["remember"] is False  # the role is read afresh at every sign-in


def test_consent_refuses_deactivated_accounts_and_clients_that_do_not_skip_consent(consent):
    url, apis, log = consent
    for challenge in ("c-gone", "c-third"):
        status, headers, _ = get(f"{url}/consent/?consent_challenge={challenge}")
        assert (status, headers["Location"].endswith("consent_verifier=reject")) == (302, True), challenge
        assert apis.rejected[challenge]["error"] == "access_denied"
        assert challenge not in apis.accepted
    assert "id-gone is not active" in log.read_text()
    assert get(f"{url}/consent/")[0] == 400


def test_the_consent_url_is_a_public_route_of_the_gateway(groups, config):
    consent_spec = specs_by_name(groups)["hydra-consent"]
    assert consent_spec.route.path == "/consent" and not consent_spec.route.protected
    assert consent_url(stack_context("ovh")).endswith("/consent/")
    assert issuer(f"https://{config.domain}") == f"https://{config.domain}/oauth2/"


# --- the Portainer settings job against a stand-in of Portainer's API -------------------------------


def test_portainer_job_signs_in_as_admin_and_switches_to_oauth(tmp_path):
    seen: list[tuple[str, str, Any, str | None]] = []

    class Portainer(BaseHTTPRequestHandler):
        def _reply(self, body: Any) -> None:
            payload = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._reply({"Version": "2.21.4"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(("POST", self.path, body, None))
            self._reply({"jwt": "jwt-1"} if body.get("Password") == "adminpw" else {})

        def do_PUT(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(("PUT", self.path, body, self.headers.get("Authorization")))
            self._reply({})

        def log_message(self, *args: Any) -> None:
            pass

    server = serve(Portainer)
    (tmp_path / "admin").write_text("adminpw\n")
    (tmp_path / "client").write_text("clientsecret\n")
    (tmp_path / "oauth.json").write_text(json.dumps({"ClientID": "portainer", "SSO": True}))
    env = {
        "PATH": os.environ["PATH"],
        "PORTAINER_URL": f"http://127.0.0.1:{server.server_port}",
        "PORTAINER_ADMIN_PASSWORD_FILE": str(tmp_path / "admin"),
        "PORTAINER_CLIENT_SECRET_FILE": str(tmp_path / "client"),
        "PORTAINER_OAUTH_SETTINGS": str(tmp_path / "oauth.json"),
        "PORTAINER_WAIT_SECONDS": "10",
    }
    program = ROOT / "docker" / "sso" / "portainer_oauth.py"
    try:
        done = subprocess.run([sys.executable, "-I", str(program)], env=env, capture_output=True, text=True)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert seen[0] == ("POST", "/api/auth", {"Username": "admin", "Password": "adminpw"}, None)
    method, path, body, auth = seen[1]
    assert (method, path, auth) == ("PUT", "/api/settings", "Bearer jwt-1")
    assert body == {
        "AuthenticationMethod": 3,
        "OAuthSettings": {"ClientID": "portainer", "SSO": True, "ClientSecret": "clientsecret"},
    }
    assert "clientsecret" not in done.stderr and "adminpw" not in done.stderr


def test_homepage_cards_name_their_roles_and_ask_who_is_signed_in(groups):
    (caddy,) = [s for s in groups["gateway"] if s.name == "caddy"]
    page = config_of(caddy, "homepage")
    assert 'data-module="portainer" data-roles="admin"' in page
    assert 'data-module="jupyter-proxy" data-roles="admin,scientist"' in page
    assert 'fetch("/whoami/"' in page
    assert '<a href="/auth/login">Sign in</a>' in page  # without JavaScript: every card and a sign-in link
