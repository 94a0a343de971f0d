"""The gateway's Caddyfile: automatic HTTPS for the stack's domain, one route per web module.

Routes are path prefixes on one domain (one certificate, one DNS record). Protected routes first ask
the identity service (Kratos' `/sessions/whoami`, which answers 200 for a valid session cookie and
401 otherwise) through Caddy's `forward_auth`; a refused request is redirected to the login page
with a `return_to`. Anything unmatched is the static homepage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

INDENT = "\t"


@dataclass(frozen=True)
class Route:
    """One path prefix on the site, proxied to `upstream` (host:port on an overlay network)."""

    path: str
    upstream: str
    protected: bool
    strip_prefix: bool = False


@dataclass(frozen=True)
class AuthGate:
    """Where forward-auth asks whether the request carries a valid session."""

    upstream: str = "kratos:4433"
    check_uri: str = "/sessions/whoami"
    login_path: str = "/auth/login"
    copy_headers: tuple[str, ...] = ("X-Kratos-Authenticated-Identity-Id",)


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
    t = INDENT
    return [
        "(identity) {",
        f"{t}forward_auth {auth.upstream} {{",
        f"{t * 2}uri {auth.check_uri}",
        f"{t * 2}copy_headers {' '.join(auth.copy_headers)}",
        f"{t * 2}@denied status 401 403",
        f"{t * 2}handle_response @denied {{",
        f"{t * 3}redir * {auth.login_path}?return_to={{http.request.scheme}}://{{http.request.host}}"
        "{http.request.uri} 302",
        f"{t * 2}}}",
        f"{t}}}",
        "}",
        "",
    ]


def _route(route: Route) -> list[str]:
    t = INDENT
    directive = "handle_path" if route.strip_prefix else "handle"
    inner = ["import identity"] if route.protected else []
    inner.append(f"reverse_proxy {route.upstream}")
    return [
        f"redir {route.path} {route.path}/ 308",
        f"{directive} {route.path}/* {{",
        *[f"{t}{line}" for line in inner],
        "}",
    ]
