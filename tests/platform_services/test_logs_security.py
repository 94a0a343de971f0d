"""The logs module signed in through the platform: OpenSearch Dashboards' OpenID Connect settings and
Hydra client, OpenSearch's security files, the claims they read from the consent service, and the
start programs run against stand-ins of the image's tools (keytool, hash.sh, the entrypoints).

The key sets below are written by hand from the documentation of the pinned versions (OpenSearch and
OpenSearch Dashboards 2.17): security/configuration/tls, security-settings, yaml, and
authentication-backends/openid-connect; the Dashboards core keys from the image's entrypoint list.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from components import catalogue
from components.catalogue.logs import COOKIE_PASSWORD, DASHBOARDS_CLIENT, LOGSTASH_ENTRYPOINT
from components.render import dashboards
from components.render import opensearch_security as sec
from components.render.logs import render_logstash_pipeline
from infra.invariants.access import credentials_in
from tests.platform_services.conftest import stack_context

ROOT = Path(__file__).resolve().parents[2]

OPENSEARCH_YML_KEYS = {
    # the image's own opensearch.yml
    "cluster.name",
    "network.host",
    # security/configuration/tls (keystore and truststore files, hostname verification)
    *(
        f"plugins.security.ssl.transport.{k}"
        for k in (
            "keystore_type",
            "keystore_filepath",
            "keystore_alias",
            "keystore_password",
            "truststore_type",
            "truststore_filepath",
            "truststore_alias",
            "truststore_password",
            "enforce_hostname_verification",
            "resolve_hostname",
        )
    ),
    "plugins.security.ssl.http.enabled",
    # security-settings
    "plugins.security.nodes_dn",
    "plugins.security.authcz.admin_dn",
    "plugins.security.allow_default_init_securityindex",
    "plugins.security.config_index_name",
    "plugins.security.restapi.roles_enabled",
}
AUTH_DOMAIN_KEYS = {
    "description",
    "http_enabled",
    "transport_enabled",
    "order",
    "http_authenticator",
    "authentication_backend",
}
OPENID_CONFIG_KEYS = {
    "openid_connect_url",
    "jwt_header",
    "jwt_url_parameter",
    "subject_key",
    "roles_key",
    "openid_connect_idp",
    "refresh_rate_limit_count",
    "refresh_rate_limit_time_window_ms",
}
"""2.17's openid domain; `required_audience`, `required_issuer` and the clock-skew setting came later."""
ROLE_KEYS = {"reserved", "hidden", "static", "description", "cluster_permissions", "index_permissions"}
MAPPING_KEYS = {"reserved", "hidden", "description", "backend_roles", "and_backend_roles", "hosts", "users"}
USER_KEYS = {
    "hash",
    "reserved",
    "hidden",
    "description",
    "backend_roles",
    "attributes",
    "opendistro_security_roles",
}
DASHBOARDS_KEYS = {
    # OpenSearch Dashboards core (the image entrypoint's list of settings)
    "server.host",
    "server.basePath",
    "server.rewriteBasePath",
    "opensearch.hosts",
    "opensearch.username",
    "opensearch.password",
    "status.allowAnonymous",
    # the security dashboards plugin
    "opensearch_security.auth.type",
    *(
        f"opensearch_security.openid.{k}"
        for k in (
            "connect_url",
            "client_id",
            "client_secret",
            "scope",
            "header",
            "logout_url",
            "base_redirect_url",
            "trust_dynamic_headers",
            "root_ca",
            "verify_hostnames",
            "refresh_tokens",
        )
    ),
    "opensearch_security.cookie.secure",
    "opensearch_security.cookie.password",
    "opensearch_security.cookie.name",
    "opensearch_security.cookie.ttl",
}
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def specs_by_name(groups) -> dict:
    return {s.name: s for specs in groups.values() for s in specs}


def config_of(spec, key: str) -> str:
    (found,) = [c.content for c in spec.configs if c.key == key]
    return found


def yaml_config(spec, key: str) -> dict:
    return yaml.safe_load(config_of(spec, key))


# --- OpenSearch Dashboards and its Hydra client ---------------------------------------------------


def test_dashboards_has_exactly_one_hydra_client_redirecting_on_the_stack_domain(groups, config):
    specs = specs_by_name(groups)
    board = specs["opensearch-dashboards"]
    assert board.oidc_client == DASHBOARDS_CLIENT
    manifest = json.loads(config_of(specs["hydra-clients"], "clients-json"))
    (entry,) = [c for c in manifest["clients"] if c["client_id"] == "opensearch-dashboards"]
    assert [s for s in all_clients(groups) if s.client_id == "opensearch-dashboards"] == [DASHBOARDS_CLIENT]
    assert entry["redirect_uris"] == [f"https://{config.domain}/logs/auth/openid/login"]
    assert entry["grant_types"] == ["authorization_code", "refresh_token"]
    assert entry["token_endpoint_auth_method"] == "client_secret_post"  # Dashboards posts the secret
    assert "role" in entry["scope"].split()
    key = "oidc_opensearch_dashboards_client_secret"
    assert entry["secret_file"] == f"/run/secrets/{key}" and "client_secret" not in entry
    assert key in {s.key for s in board.secrets} & {s.key for s in specs["hydra-clients"].secrets}


def all_clients(groups) -> list:
    return [s.oidc_client for specs in groups.values() for s in specs if s.oidc_client is not None]


def test_dashboards_signs_in_at_the_issuer_with_documented_keys_only(groups, config):
    board = specs_by_name(groups)["opensearch-dashboards"]
    settings = yaml_config(board, "dashboards-yml")
    assert set(settings) <= DASHBOARDS_KEYS, set(settings) - DASHBOARDS_KEYS
    base = f"https://{config.domain}"
    assert settings["opensearch_security.auth.type"] == "openid"
    assert settings["opensearch_security.openid.connect_url"] == (
        f"{base}/oauth2/.well-known/openid-configuration"
    )
    assert settings["opensearch_security.openid.client_id"] == "opensearch-dashboards"
    # The plugin sends <base_redirect_url>/auth/openid/login: exactly the registered redirect URI.
    redirect = settings["opensearch_security.openid.base_redirect_url"] + dashboards.LOGIN_PATH
    assert DASHBOARDS_CLIENT.redirect_uris(base) == [redirect]
    # Signing out, it sends base_redirect_url as post_logout_redirect_uri: Hydra must know it.
    returning = settings["opensearch_security.openid.base_redirect_url"]
    assert DASHBOARDS_CLIENT.post_logout_redirect_uris(base) == [returning] == [f"{base}/logs"]
    assert settings["opensearch_security.openid.scope"].split() == ["openid", "email", "profile", "role"]
    assert settings["server.basePath"] == board.route.path == "/logs"
    assert settings["opensearch.hosts"] == ["http://opensearch:9200"]
    assert settings["opensearch.username"] == sec.KIBANASERVER.name
    assert settings["opensearch_security.cookie.secure"] is True
    for key in ("opensearch.password", "opensearch_security.openid.client_secret"):
        assert PLACEHOLDER.fullmatch(settings[key]), key
    assert list(credentials_in(config_of(board, "dashboards-yml"))) == []
    assert not any(k.startswith("DISABLE_SECURITY") for k in board.env)


def run_command(command: tuple[str, ...], tmp_path: Path, program: str) -> dict[str, str]:
    """Run a service's `sh -c` start command with its secrets in `tmp_path/secrets` and the image's
    program replaced by a stand-in that records its environment; returns that environment."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    recorder = tmp_path / "record-env"
    recorder.write_text(f'#!/bin/sh\nenv > "{tmp_path}/env"\n')
    recorder.chmod(0o755)
    script = command[2].replace("/run/secrets/", f"{secrets}/")
    script = script.replace(program, str(recorder))
    done = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, env={"PATH": os.environ["PATH"]}
    )
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in (tmp_path / "env").read_text().splitlines() if "=" in line)


def test_dashboards_reads_every_credential_of_its_config_from_a_mounted_secret(groups, tmp_path):
    board = specs_by_name(groups)["opensearch-dashboards"]
    mounted = {s.target for s in board.secrets}
    assert mounted == {
        "opensearch_kibanaserver_password",
        "oidc_opensearch_dashboards_client_secret",
        COOKIE_PASSWORD.target,
    }
    (tmp_path / "secrets").mkdir()
    for name in mounted:
        (tmp_path / "secrets" / name).write_text(f"value-of-{name}")
    env = run_command(board.command, tmp_path, dashboards.ENTRYPOINT)
    wanted = PLACEHOLDER.findall(config_of(board, "dashboards-yml"))
    assert sorted(wanted) == sorted(
        [dashboards.PASSWORD_ENV, dashboards.CLIENT_SECRET_ENV, dashboards.COOKIE_PASSWORD_ENV]
    )
    assert env[dashboards.PASSWORD_ENV] == "value-of-opensearch_kibanaserver_password"
    assert env[dashboards.CLIENT_SECRET_ENV] == "value-of-oidc_opensearch_dashboards_client_secret"
    assert env[dashboards.COOKIE_PASSWORD_ENV] == f"value-of-{COOKIE_PASSWORD.target}"
    assert board.secret_uid == "1000"  # the image's user reads the 0400 secret files


# --- OpenSearch's security files ---------------------------------------------------------------------


def test_opensearch_trusts_the_same_issuer_and_maps_only_the_admin_role(groups, config):
    search = specs_by_name(groups)["opensearch"]
    board = yaml_config(specs_by_name(groups)["opensearch-dashboards"], "dashboards-yml")
    authc = yaml_config(search, "security-config")["config"]["dynamic"]["authc"]
    for domain in authc.values():
        assert set(domain) <= AUTH_DOMAIN_KEYS, set(domain) - AUTH_DOMAIN_KEYS
    openid = authc["openid_auth_domain"]
    assert (openid["http_authenticator"]["type"], openid["authentication_backend"]["type"]) == (
        "openid",
        "noop",
    )
    settings = openid["http_authenticator"]["config"]
    assert set(settings) <= OPENID_CONFIG_KEYS, set(settings) - OPENID_CONFIG_KEYS
    assert settings["openid_connect_url"] == board["opensearch_security.openid.connect_url"]
    assert (
        settings["openid_connect_url"] == f"https://{config.domain}/oauth2/.well-known/openid-configuration"
    )
    assert (settings["subject_key"], settings["roles_key"]) == ("email", "role")
    basic = authc["basic_internal_auth_domain"]
    assert basic["order"] < openid["order"] and basic["authentication_backend"]["type"] == "internal"

    mapping = yaml_config(search, "security-roles-mapping")
    for name, entry in mapping.items():
        if name != "_meta":
            assert set(entry) <= MAPPING_KEYS, (name, set(entry) - MAPPING_KEYS)
    assert mapping["all_access"]["backend_roles"] == ["admin"]
    backend_roles = [r for name, e in mapping.items() if name != "_meta" for r in e.get("backend_roles", [])]
    assert backend_roles == ["admin"]  # a scientist's token maps to no OpenSearch role at all
    assert mapping["kibana_server"]["users"] == ["kibanaserver"]
    assert mapping["swarm_logs_writer"]["users"] == ["logstash"]

    roles = yaml_config(search, "security-roles")
    writer = roles["swarm_logs_writer"]
    assert set(writer) <= ROLE_KEYS
    (patterns,) = [p["index_patterns"] for p in writer["index_permissions"]]
    pipeline = config_of(specs_by_name(groups)["logstash"], "pipeline")
    index = re.search(r'index => "([^%"]+)%', pipeline).group(1) + "2024.01.31"
    assert any(fnmatch.fnmatch(index, p) for p in patterns)  # Logstash may write the index it names


def test_opensearch_yml_uses_documented_settings_and_no_literal_credential(groups):
    search = specs_by_name(groups)["opensearch"]
    settings = yaml_config(search, "opensearch-yml")
    assert set(settings) <= OPENSEARCH_YML_KEYS, set(settings) - OPENSEARCH_YML_KEYS
    assert "DISABLE_SECURITY_PLUGIN" not in search.env and "plugins.security.disabled" not in settings
    assert settings["plugins.security.ssl.transport.keystore_type"] == "PKCS12"
    assert settings["plugins.security.allow_default_init_securityindex"] is True
    assert settings["plugins.security.restapi.roles_enabled"] == []
    assert PLACEHOLDER.findall(config_of(search, "opensearch-yml")) == [
        sec.STORE_PASSWORD_ENV,
        sec.STORE_PASSWORD_ENV,
        sec.INDEX_ENV,
    ]
    for key in ("opensearch-yml", "security-config", "internal-users", "start"):
        assert list(credentials_in(config_of(search, key))) == [], key
    users = yaml_config(search, "internal-users")
    assert set(users) == {"_meta", "kibanaserver", "logstash"}  # the image's demo users are gone
    assert all(set(u) <= USER_KEYS for name, u in users.items() if name != "_meta")
    assert search.command == ("/bin/sh", sec.START_SCRIPT)
    assert {c.target for c in search.configs} >= {f"{sec.SECURITY_DIR}/{n}" for n in sec.SECURITY_FILES}


# --- the claims OpenSearch reads come out of the consent service -----------------------------------


def consent_module():
    spec = importlib.util.spec_from_file_location("consent_program", ROOT / "docker" / "sso" / "consent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("role", ["admin", "scientist"])
def test_the_id_token_for_dashboards_carries_the_subject_and_role_opensearch_reads(groups, role):
    settings = yaml_config(specs_by_name(groups)["opensearch"], "security-config")["config"]["dynamic"]
    openid = settings["authc"]["openid_auth_domain"]["http_authenticator"]["config"]
    identity = {
        "id": "id-ada",
        "state": "active",
        "traits": {"email": "ada@example.org", "name": "Ada"},
        "verifiable_addresses": [{"value": "ada@example.org", "verified": True}],
        "metadata_public": {"role": role},
    }
    id_claims, _ = consent_module().claims(identity, list(DASHBOARDS_CLIENT.scopes))
    assert id_claims[openid["subject_key"]] == "ada@example.org"
    assert id_claims[openid["roles_key"]] == role
    mapped = yaml_config(specs_by_name(groups)["opensearch"], "security-roles-mapping")["all_access"]
    assert (role in mapped["backend_roles"]) is (role == "admin")


# --- the OpenSearch start script, against stand-ins of the image's tools ---------------------------

FAKE_KEYTOOL = r"""#!/bin/sh
# Records its call; writes the file named by -keystore (or -file for -exportcert).
echo "$*" >> "$HOME_DIR/keytool.calls"
[ -n "$TRANSPORT_STORE_PASSWORD" ] || { echo "no store password" >&2; exit 1; }
out=""; prev=""; mode=""
for arg in "$@"; do
  case "$arg" in -genkeypair|-exportcert|-importcert) mode="$arg" ;; esac
done
for arg in "$@"; do
  if [ "$prev" = "-keystore" ] && [ "$mode" != "-exportcert" ]; then out="$arg"; fi
  if [ "$prev" = "-file" ] && [ "$mode" = "-exportcert" ]; then out="$arg"; fi
  prev="$arg"
done
echo "$mode" > "$out"
"""
FAKE_HASHER = r"""#!/bin/bash
# Like the plugin's hash.sh: JVM noise, then a bcrypt-looking line derived from the variable named by -env.
[ "$1" = "-env" ] || exit 2
echo "WARNING: A terminally deprecated method in java.lang.System has been called"
value="${!2}"
[ "$value" = "broken" ] && exit 0
printf '$2y$12$%s\n' "$(printf '%s' "$value" | sha256sum | cut -c1-53)"
"""
FAKE_ENTRYPOINT = r"""#!/bin/sh
echo "$*" > "$HOME_DIR/entrypoint.args"
env > "$HOME_DIR/entrypoint.env"
"""


def fake_hash(password: str) -> str:
    return "$2y$12$" + hashlib.sha256(password.encode()).hexdigest()[:53]


def opensearch_home(tmp_path: Path, base_url: str = "https://p.example.org") -> Path:
    home = tmp_path / "home"
    security = home / "config" / "opensearch-security"
    security.mkdir(parents=True)
    (security / "config.yml").write_text(sec.render_security_config(base_url))
    (security / "roles.yml").write_text(sec.render_roles())
    (security / "roles_mapping.yml").write_text(sec.render_roles_mapping())
    (security / "internal_users.yml").write_text("admin:\n  hash: demo\n")  # the image's own file
    tools = {
        "jdk/bin/keytool": FAKE_KEYTOOL,
        "plugins/opensearch-security/tools/hash.sh": FAKE_HASHER,
        "opensearch-docker-entrypoint.sh": FAKE_ENTRYPOINT,
    }
    for relative, text in tools.items():
        path = home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755)
    (tmp_path / "internal_users.yml.in").write_text(sec.render_internal_users_template())
    (tmp_path / "secrets").mkdir()
    return home


def start(tmp_path: Path, home: Path, passwords: dict[str, str]) -> subprocess.CompletedProcess:
    for user in sec.INTERNAL_USERS:
        (tmp_path / "secrets" / user.secret_key).write_text(passwords[user.name])
    script = sec.render_start_script(
        home=str(home), template=str(tmp_path / "internal_users.yml.in"), secret_dir=str(tmp_path / "secrets")
    )
    env = {"PATH": os.environ["PATH"], "HOME_DIR": str(home)}
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env)


def entry_env(home: Path) -> dict[str, str]:
    lines = (home / "entrypoint.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_start_script_hashes_the_users_makes_transport_keys_and_names_the_index(tmp_path):
    home = opensearch_home(tmp_path)
    passwords = {"kibanaserver": "Kpw0123456789", "logstash": "Lpw0123456789"}
    done = start(tmp_path, home, passwords)
    assert done.returncode == 0, done.stderr
    users = yaml.safe_load((home / "config" / "opensearch-security" / "internal_users.yml").read_text())
    assert {name: u["hash"] for name, u in users.items() if name != "_meta"} == {
        name: fake_hash(pw) for name, pw in passwords.items()
    }
    assert (home / "entrypoint.args").read_text().split() == ["opensearch"]
    env = entry_env(home)
    assert re.fullmatch(r"[0-9a-f]{48}", env[sec.STORE_PASSWORD_ENV])
    assert re.fullmatch(re.escape(sec.INDEX_PREFIX) + r"[0-9a-f]{16}", env[sec.INDEX_ENV])
    for name in PLACEHOLDER.findall(sec.render_opensearch_yml()):
        assert env.get(name), name  # OpenSearch resolves every ${VAR} of its settings
    assert not any(pw in (home / "entrypoint.env").read_text() for pw in passwords.values())
    tls = home / "config" / sec.TRANSPORT_DIR
    assert sorted(p.name for p in tls.iterdir()) == ["node.der", "node.p12", "trust.p12"]
    assert f"-dname {sec.TRANSPORT_DN}" in (home / "keytool.calls").read_text().replace("'", "")


def test_the_security_index_changes_with_a_password_or_a_file_and_only_then(tmp_path):
    names = []
    for run, (kibana, mapping_extra) in enumerate(
        [("Kpw-one", ""), ("Kpw-one", ""), ("Kpw-two", ""), ("Kpw-one", "# changed\n")]
    ):
        home = opensearch_home(tmp_path / str(run))
        mapping = home / "config" / "opensearch-security" / "roles_mapping.yml"
        mapping.write_text(mapping.read_text() + mapping_extra)
        done = start(tmp_path / str(run), home, {"kibanaserver": kibana, "logstash": "Lpw"})
        assert done.returncode == 0, done.stderr
        names.append(entry_env(home)[sec.INDEX_ENV])
    assert names[0] == names[1]  # a restart keeps its index
    assert len({names[0], names[2], names[3]}) == 3


def test_a_hash_that_does_not_come_out_stops_the_start_with_one_line(tmp_path):
    home = opensearch_home(tmp_path)
    done = start(tmp_path, home, {"kibanaserver": "broken", "logstash": "Lpw"})
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == ["hash.sh gave no bcrypt hash for kibanaserver"]
    assert not (home / "entrypoint.args").exists()
    users = (home / "config" / "opensearch-security" / "internal_users.yml").read_text()
    assert users == "admin:\n  hash: demo\n"  # nothing written


def test_the_healthcheck_hands_the_password_to_curl_on_stdin(tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / sec.KIBANASERVER.secret_key).write_text("Kpw0123456789")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text(f'#!/bin/sh\necho "$*" > "{tmp_path}/args"\ncat > "{tmp_path}/stdin"\n')
    (bin_dir / "curl").chmod(0o755)
    command = sec.healthcheck_command().replace("/run/secrets/", f"{secrets}/")
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    assert subprocess.run(["sh", "-c", command], env=env).returncode == 0
    assert "Kpw0123456789" not in (tmp_path / "args").read_text()
    assert (tmp_path / "stdin").read_text() == 'user = "kibanaserver:Kpw0123456789"\n'
    assert "_cluster/health" in (tmp_path / "args").read_text()


# --- Logstash ---------------------------------------------------------------------------------------


def test_logstash_signs_in_as_its_internal_user_with_the_password_from_its_secret(groups, tmp_path):
    logstash = specs_by_name(groups)["logstash"]
    pipeline = config_of(logstash, "pipeline")
    assert 'user => "logstash"' in pipeline
    (wanted,) = PLACEHOLDER.findall(pipeline)
    assert list(credentials_in(pipeline)) == []
    assert {s.key for s in logstash.secrets} == {sec.LOGSTASH.secret_key}
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / sec.LOGSTASH.secret_key).write_text("Lpw0123456789")
    env = run_command(logstash.command, tmp_path, LOGSTASH_ENTRYPOINT)
    assert env[wanted] == "Lpw0123456789"


def test_a_literal_logstash_password_would_be_named():
    literal = render_logstash_pipeline("http://opensearch:9200", "logstash", "X").replace("${X}", "hunter2")
    assert list(credentials_in(literal)) == ["a value for 'password' (h***)"]


def test_disabling_logs_removes_the_dashboards_client():
    groups = catalogue.build(stack_context("ovh", logs={"enabled": False}))
    assert "opensearch-dashboards" not in [c.client_id for c in all_clients(groups)]
