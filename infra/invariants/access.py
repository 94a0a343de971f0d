"""Access invariants: who can open what, read from the plan as it will run.

- `protected-routes-have-roles`: the gateway's Caddyfile (the Swarm config Caddy loads) gates every
  route its service's spec protects, with exactly the spec's roles (label `deepcube.route.roles`),
  every gate names at least one known role, and a route to an admin module (label
  `deepcube.exposes=admin-ui`) admits only `admin`. A gate that drifts from the spec opens a module
  to people it was never meant for, without any single resource looking wrong.
- `user-workloads-isolated`: a service running user code (label `deepcube.workload=user`) shares
  no Docker network with a service exposing an admin API or an admin UI: from a notebook, Kratos'
  admin API or Prometheus must be as far away as from the internet, reachable only through the
  gateway and its role check.
- `configs-hold-no-credentials`: Swarm configs are plain (base64 in the state, readable with
  `docker config inspect` on every manager); a password there (a URI's userinfo, a `password:`
  key, a private key) belongs in a Docker secret.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from components.roles import ADMIN_ONLY, unknown_roles
from components.service_spec import EXPOSES_LABEL, ROUTE_ROLES_LABEL, WORKLOAD_LABEL
from infra.invariants.topology import DOCKER_CONFIG, DOCKER_NETWORK, read_topology
from infra.manifest import UNKNOWN, ResourceRecord, is_secret
from infra.policy_model import PolicyContext, Violation

ROUTES_POLICY = "protected-routes-have-roles"
ISOLATION_POLICY = "user-workloads-isolated"
CONFIGS_POLICY = "configs-hold-no-credentials"

ADMIN_EXPOSURES = ("admin-api", "admin-ui")
GATE_SNIPPET = "identity"
"""The Caddyfile snippet that gates a route: `import identity <role>,<role>`."""

_ROUTE_START = re.compile(r"^(handle|handle_path)\s+(/\S*?)(/\*)?\s*\{$")
_URI_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.-]*)://([^\s/?#@:]+):([^\s/?#@]+)@([^\s/?#]+)", re.IGNORECASE)
_CREDENTIAL_KEY = re.compile(
    r"""^[ \t\-]*["']?([A-Za-z0-9_.-]*?(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|"""
    r"""private[_-]?key))["']?[ \t]*[:=]>?[ \t]*["']?([^"'\s,{}\[\]]+)""",
    re.IGNORECASE | re.MULTILINE,
)
_NOT_CREDENTIAL_KEY = re.compile(r"(_file|_path|_name|_id|_url|_length)$", re.IGNORECASE)
_REFERENCE = ("/run/secrets/", "$", "{", "<secret", "file://", "env:")
"""Values that point at a credential instead of holding one (a secret file, a variable)."""
_DURATION = re.compile(r"\d+(ns|us|ms|s|m|h)")
"""A lifetime such as `access_token: 1h` (ORY's `ttl` section) configures a credential, it is none."""


@dataclass(frozen=True)
class GatewayRoute:
    """One route of a Caddyfile: its path, where it proxies, and the roles its gate admits."""

    path: str
    upstream: str
    roles: tuple[str, ...] | None
    """None when the route has no gate; () when the gate names no role."""
    config_urn: str

    @property
    def service(self) -> str:
        """The upstream's host: a service's network alias (or a placeholder such as `{$VAR}`)."""
        return self.upstream.split("://")[-1].rsplit(":", 1)[0]


def config_text(record: ResourceRecord) -> str | None:
    """The decoded content of a Swarm config, or None when it is unknown or not text."""
    data = record.inputs.get("data")
    if not isinstance(data, str) or data == UNKNOWN or is_secret(data):
        return None
    try:
        return base64.b64decode(data, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def parse_routes(text: str, config_urn: str) -> list[GatewayRoute]:
    """The `handle`/`handle_path` blocks of a Caddyfile with their gate and first upstream."""
    routes: list[GatewayRoute] = []
    path: str | None = None
    depth = 0
    roles: tuple[str, ...] | None = None
    upstream = ""
    for raw in text.splitlines():
        line = raw.strip()
        if path is None:
            match = _ROUTE_START.match(line)
            if match:
                path, depth, roles, upstream = match.group(2), 1, None, ""
            continue
        words = line.split()
        if depth == 1 and words[:2] == ["import", GATE_SNIPPET]:
            roles = tuple(r for r in (words[2] if len(words) > 2 else "").split(",") if r)
        if depth == 1 and words[:1] == ["reverse_proxy"] and len(words) > 1 and not upstream:
            upstream = words[1]
        depth += line.count("{") - line.count("}")
        if depth <= 0:
            routes.append(GatewayRoute(path, upstream, roles, config_urn))
            path = None
    return routes


def gateway_routes(records: Sequence[ResourceRecord]) -> list[GatewayRoute]:
    """Routes of every Caddyfile the plan ships as a Swarm config."""
    routes = []
    for record in records:
        if record.type == DOCKER_CONFIG and "caddyfile" in record.name:
            text = config_text(record)
            if text is not None:
                routes += parse_routes(text, record.urn)
    return routes


def _roles(roles: tuple[str, ...]) -> str:
    return ",".join(roles) if roles else "no role"


def protected_routes_have_roles(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """Gated routes name known roles, match their spec's roles, and admin modules admit only admin."""
    violations = []
    routes = gateway_routes(records)
    for route in routes:
        if route.roles is None:
            continue
        if not route.roles:
            message = f"route {route.path} is gated but names no role that may open it"
            violations.append(Violation(ROUTES_POLICY, route.config_urn, message))
        elif unknown_roles(route.roles):
            message = f"route {route.path} names unknown roles {unknown_roles(route.roles)}"
            violations.append(Violation(ROUTES_POLICY, route.config_urn, message))
    by_service: dict[str, list[GatewayRoute]] = {}
    for route in routes:
        by_service.setdefault(route.service, []).append(route)
    for service in read_topology(records).services:
        wanted = service.labels.get(ROUTE_ROLES_LABEL)
        wanted = None if wanted == "public" else wanted
        admin_ui = service.labels.get(EXPOSES_LABEL) == "admin-ui"
        for route in by_service.get(service.name, []):
            where = f"route {route.path} to {service.name}"
            if route.roles is None and (admin_ui or wanted):
                message = f"{where} is not gated, anyone opens it; its spec admits only {wanted or 'admin'}"
            elif admin_ui and route.roles != ADMIN_ONLY:
                message = f"{where} (an admin module) admits {_roles(route.roles or ())}, not only admin"
            elif wanted and set(route.roles or ()) != set(wanted.split(",")):
                message = f"{where} admits {_roles(route.roles or ())}; its spec admits {wanted}"
            else:
                continue
            violations.append(Violation(ROUTES_POLICY, service.urn, message))
    return violations


def user_workloads_isolated(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """No user-workload service shares a Docker network with an admin-API or admin-UI service."""
    names = {r.urn: str(r.inputs.get("name", r.name)) for r in records if r.type == DOCKER_NETWORK}
    services = read_topology(records).services
    users = [s for s in services if s.labels.get(WORKLOAD_LABEL) == "user"]
    admins = [s for s in services if s.labels.get(EXPOSES_LABEL) in ADMIN_EXPOSURES]
    violations = []
    for user in users:
        for admin in admins:
            shared = sorted(names.get(urn, urn) for urn in set(user.networks) & set(admin.networks))
            if shared:
                message = (
                    f"user workload {user.name} shares network {', '.join(shared)} with {admin.name} "
                    f"({admin.labels[EXPOSES_LABEL]})"
                )
                violations.append(Violation(ISOLATION_POLICY, user.urn, message))
    return violations


def _masked(value: str) -> str:
    return value[:1] + "***" if value else "***"


def credentials_in(text: str) -> Iterator[str]:
    """Descriptions (with the credential masked) of every credential-looking value in a config text."""
    for match in _URI_PASSWORD.finditer(text):
        scheme, user, password, host = match.groups()
        if not password.startswith(_REFERENCE):
            yield f"a {scheme}:// URI with a password ({scheme}://{user}:{_masked(password)}@{host})"
    for match in _CREDENTIAL_KEY.finditer(text):
        key, _, value = match.groups()
        if (
            not _NOT_CREDENTIAL_KEY.search(key)
            and not value.startswith(_REFERENCE)
            and not _DURATION.fullmatch(value)
        ):
            yield f"a value for {key!r} ({_masked(value)})"
    if re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", text):
        yield "a PEM private key"


def configs_hold_no_credentials(records: Sequence[ResourceRecord], ctx: PolicyContext) -> list[Violation]:
    """Swarm configs carry no password, token or private key (those belong in Docker secrets)."""
    violations = []
    for record in records:
        if record.type != DOCKER_CONFIG:
            continue
        text = config_text(record)
        for found in credentials_in(text or ""):
            name = record.inputs.get("name", record.name)
            message = f"config {name} holds {found}; hand it over as a Docker secret"
            violations.append(Violation(CONFIGS_POLICY, record.urn, message))
    return violations
