"""OpenSearch Dashboards 2.17 signing people in with the platform's OpenID Connect provider (Hydra).

`opensearch_dashboards.yml` replaces the image's own file (which carries the demo `kibanaserver`
password). The security plugin's OpenID settings (`opensearch_security.openid.*`, security
dashboards plugin 2.17, as documented under security/authentication-backends/openid-connect):

- `connect_url`: Hydra's discovery document on the stack's domain; Dashboards reads the
  authorization, token and end-session endpoints from it, over HTTPS through the gateway like a
  browser (`verify_hostnames` stays at its default, true, against the public CAs).
- `client_id` / `client_secret`: the module's Hydra client (components.catalogue.logs). Dashboards
  posts both in the token request's form body, so the client authenticates with
  `client_secret_post`.
- `base_redirect_url`: `https://DOMAIN/logs`. Behind the gateway Dashboards cannot see the public
  address; with this set it sends `<base_redirect_url>/auth/openid/login` as the redirect URI
  (the base is taken as is, the server's base path is not added again), which is the one path
  the client registers.
- `scope`: the client's scopes, `role` among them, so the ID token carries the platform role that
  OpenSearch maps (components.render.opensearch_security).

Credentials are `${VAR}` references, resolved by Dashboards from its environment when it reads the
file (an unknown variable stops the start); the service's command exports them from /run/secrets:
`opensearch.password` (the internal user `kibanaserver`), the client secret and
`opensearch_security.cookie.password` (the key of the session cookie; the plugin's default is a
published string). The cookie is `secure`: the site is HTTPS only. `status.allowAnonymous` keeps
`/logs/api/status` open for the container's healthcheck and the homepage's status dot (it reports
health, no data); everything else needs a session.
"""

from __future__ import annotations

import yaml

from components.oidc import OidcClient, discovery_url
from components.render.opensearch_security import KIBANASERVER

CONFIG_PATH = "/usr/share/opensearch-dashboards/config/opensearch_dashboards.yml"
ENTRYPOINT = "/usr/share/opensearch-dashboards/opensearch-dashboards-docker-entrypoint.sh"
LOGIN_PATH = "/auth/openid/login"
"""Where the security plugin receives the authorization code, under `base_redirect_url`."""
PASSWORD_ENV = "OSD_KIBANASERVER_PASSWORD"
CLIENT_SECRET_ENV = "OSD_OPENID_CLIENT_SECRET"
COOKIE_PASSWORD_ENV = "OSD_COOKIE_PASSWORD"
"""Names the image's entrypoint does not turn into command-line options (it does so for
`OPENSEARCH_PASSWORD`), so the values stay out of the process list."""


def redirect_path(base_path: str) -> str:
    """The client's redirect path for Dashboards served under `base_path` (e.g. `/logs`)."""
    return base_path.rstrip("/") + LOGIN_PATH


def render_dashboards_yml(base_url: str, base_path: str, client: OidcClient, opensearch_url: str) -> str:
    return yaml.safe_dump(
        {
            "server.host": "0.0.0.0",
            "server.basePath": base_path,
            "server.rewriteBasePath": True,
            "opensearch.hosts": [opensearch_url],
            "opensearch.username": KIBANASERVER.name,
            "opensearch.password": f"${{{PASSWORD_ENV}}}",
            "status.allowAnonymous": True,
            "opensearch_security.auth.type": "openid",
            "opensearch_security.openid.connect_url": discovery_url(base_url),
            "opensearch_security.openid.client_id": client.client_id,
            "opensearch_security.openid.client_secret": f"${{{CLIENT_SECRET_ENV}}}",
            "opensearch_security.openid.scope": " ".join(client.scopes),
            "opensearch_security.openid.base_redirect_url": base_url.rstrip("/") + base_path,
            "opensearch_security.cookie.secure": True,
            "opensearch_security.cookie.password": f"${{{COOKIE_PASSWORD_ENV}}}",
        },
        sort_keys=False,
    )
