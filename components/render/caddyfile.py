"""The gateway's Caddyfile: automatic HTTPS for the stack's domain, one route per web module.

Routes are path prefixes on one domain (one certificate, one DNS record). A protected route names
the roles that may open it; Caddy's `forward_auth` asks the gatekeeper at `/roles/<role>,<role>`,
which reads the session from Kratos and answers 2xx (identity and role headers are then copied to
the upstream), 401 without a session (Caddy redirects to the login page with a `return_to`) or 403
when the session's role is not among the route's (passed through to the browser). The roles travel
in the path that Caddy itself writes, so a client cannot choose them. Anything unmatched is the
static homepage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

INDENT = "\t"
_ROLE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


@dataclass(frozen=True)
class Route:
    """One path prefix on the site, proxied to `upstream` (host:port on an overlay network)."""

    path: str
    upstream: str
    protected: bool
    strip_prefix: bool = False
    insecure_tls: bool = False
    """HTTPS to an upstream with a self-signed certificate on a private link (e.g. the Hopsworks head)."""
    roles: tuple[str, ...] = ()
    """Roles that may open a protected route; a protected route without roles would open to nobody
    (or, with a careless gate, to everybody), so it is refused here."""

    def __post_init__(self) -> None:
        if self.protected and not self.roles:
            raise ValueError(f"protected route {self.path} names no role that may open it")
        if not self.protected and self.roles:
            raise ValueError(f"public route {self.path} names roles {self.roles}; protect it or drop them")
        bad = [role for role in self.roles if not _ROLE.fullmatch(role)]
        if bad:
            raise ValueError(f"route {self.path}: role names {bad} must be lower-case words")


@dataclass(frozen=True)
class AuthGate:
    """Where forward-auth asks whether the request's session has a role that may open the route."""

    upstream: str = "gatekeeper:4180"
    check_path: str = "/roles"
    """The gatekeeper reads the allowed roles from `<check_path>/<role>,<role>`."""
    login_path: str = "/auth/login"
    copy_headers: tuple[str, ...] = ("X-Deepcube-User-Id", "X-Deepcube-Role", "X-Deepcube-Email")
    """Set by the gatekeeper on 2xx; Caddy sets them on the proxied request (replacing any a client sent)."""


@dataclass(frozen=True)
class CaddySite:
    """Everything the Caddyfile depends on."""

    site: str
    """`example.org` in production (automatic HTTPS); `http://127.0.0.1:PORT` for a local test."""
    routes: Sequence[Route]
    homepage_root: str = "/srv/homepage"
    email: str | None = None
    auth: AuthGate | None = None
    metrics_listen: str | None = ":9180"
    """Plain-HTTP listener for Prometheus (overlay network only, never published); None to omit."""
    local: bool = False
    """Local test mode: no automatic HTTPS, no admin API."""


def render_caddyfile(site: CaddySite) -> str:
    """The Caddyfile text; `caddy validate --adapter caddyfile` is the judge of its syntax."""
    paths = [route.path for route in site.routes]
    if len(set(paths)) != len(paths):
        raise ValueError(f"duplicate route paths: {sorted(paths)}")
    if any(route.protected for route in site.routes) and site.auth is None:
        raise ValueError("protected routes need an identity gate (auth)")
    lines: list[str] = ["{"]
    if site.local:
        lines += [f"{INDENT}auto_https off", f"{INDENT}admin off"]
    if site.email:
        lines.append(f"{INDENT}email {site.email}")
    if site.metrics_listen:
        lines.append(f"{INDENT}metrics")
    lines += ["}", ""]
    if site.auth is not None:
        lines += _auth_snippet(site.auth)
    lines.append(f"{site.site} {{")
    body = ["encode zstd gzip", "log"]
    body.append("header {")
    body += [
        f'{INDENT}Strict-Transport-Security "max-age=31536000"' if not site.local else f"{INDENT}-Server",
        f"{INDENT}X-Content-Type-Options nosniff",
        f"{INDENT}Referrer-Policy strict-origin-when-cross-origin",
    ]
    body.append("}")
    for route in sorted(site.routes, key=lambda r: r.path):
        body += _route(route)
    body += ["handle {", f"{INDENT}root * {site.homepage_root}", f"{INDENT}file_server", "}"]
    lines += [f"{INDENT}{line}" for line in body]
    lines += ["}", ""]
    if site.metrics_listen:
        lines += [
            f"http://{site.metrics_listen} {{"
            if site.metrics_listen.startswith(":")
            else f"{site.metrics_listen} {{",
            f"{INDENT}metrics /metrics",
            "}",
            "",
        ]
    return "\n".join(lines)


def _auth_snippet(auth: AuthGate) -> list[str]:
    """`import identity <role>,<role>`: the snippet's one argument is the route's roles.

    The login page's `return_to` and the gatekeeper's log line use the original request URI
    (`orig_uri`): inside a `handle_path` block the URI has already lost its prefix, and the user
    would land on the homepage.
    """
    t = INDENT
    return [
        "(identity) {",
        f"{t}forward_auth {auth.upstream} {{",
        f"{t * 2}uri {auth.check_path}/{{args[0]}}",
        f"{t * 2}header_up X-Forwarded-Uri {{http.request.orig_uri}}",
        f"{t * 2}copy_headers {' '.join(auth.copy_headers)}",
        f"{t * 2}@unauthenticated status 401",
        f"{t * 2}handle_response @unauthenticated {{",
        f"{t * 3}redir * {auth.login_path}?return_to={{http.request.scheme}}://{{http.request.hostport}}"
        "{http.request.orig_uri} 302",
        f"{t * 2}}}",
        f"{t}}}",
        "}",
        "",
    ]


def _route(route: Route) -> list[str]:
    t = INDENT
    directive = "handle_path" if route.strip_prefix else "handle"
    inner = [f"import identity {','.join(route.roles)}"] if route.protected else []
    if route.insecure_tls:
        inner += [
            f"reverse_proxy {route.upstream} {{",
            f"{t}transport http {{",
            f"{t * 2}tls_insecure_skip_verify",
            f"{t}}}",
            "}",
        ]
    else:
        inner.append(f"reverse_proxy {route.upstream}")
    return [
        f"redir {route.path} {route.path}/ 308",
        f"{directive} {route.path}/* {{",
        *[f"{t}{line}" for line in inner],
        "}",
    ]
