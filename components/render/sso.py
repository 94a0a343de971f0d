"""How each module signs people in with the platform's OpenID Connect provider (Hydra).

One function per module, each taking the stack's base URL and the module's `OidcClient`, so the
issuer's endpoints, the client id and the secret's file come from one place (components.oidc).

- Grafana 11: generic OAuth from `GF_AUTH_GENERIC_OAUTH_*` (any `[section] key` of grafana.ini as
  `GF_<SECTION>_<KEY>`, and `__FILE` to read the value from a file). The platform role maps to the
  Grafana role with `role_attribute_path` (JMESPath over the ID token / userinfo): admin -> Admin,
  scientist -> Viewer, anything else refused (`role_attribute_strict`).
- Portainer CE 2.21: OAuth settings exist only in its database, set through `PUT /api/settings`
  (the `portainer-sso` job, docker/sso/portainer_oauth.py); this module renders those settings.
"""

from __future__ import annotations

import json

from components.oidc import ROLE_CLAIM, OidcClient, auth_url, logout_url, token_url, userinfo_url

GRAFANA_ROLE_PATH = f"{ROLE_CLAIM} == 'admin' && 'Admin' || {ROLE_CLAIM} == 'scientist' && 'Viewer'"
"""JMESPath: platform admins administer Grafana, scientists may look; any other value is not a
Grafana role, and with `role_attribute_strict` the sign-in is refused."""


def grafana_oauth_env(base_url: str, client: OidcClient) -> dict[str, str]:
    return {
        "GF_AUTH_GENERIC_OAUTH_ENABLED": "true",
        "GF_AUTH_GENERIC_OAUTH_NAME": "DeepCube account",
        "GF_AUTH_GENERIC_OAUTH_CLIENT_ID": client.client_id,
        "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET__FILE": client.secret_file,
        "GF_AUTH_GENERIC_OAUTH_SCOPES": " ".join(client.scopes),
        "GF_AUTH_GENERIC_OAUTH_AUTH_URL": auth_url(base_url),
        "GF_AUTH_GENERIC_OAUTH_TOKEN_URL": token_url(base_url),
        "GF_AUTH_GENERIC_OAUTH_API_URL": userinfo_url(base_url),
        "GF_AUTH_GENERIC_OAUTH_USE_PKCE": "true",
        "GF_AUTH_GENERIC_OAUTH_ALLOW_SIGN_UP": "true",
        "GF_AUTH_GENERIC_OAUTH_EMAIL_ATTRIBUTE_PATH": "email",
        "GF_AUTH_GENERIC_OAUTH_LOGIN_ATTRIBUTE_PATH": "email",
        "GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH": GRAFANA_ROLE_PATH,
        "GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_STRICT": "true",
        "GF_AUTH_OAUTH_AUTO_LOGIN": "true",
        "GF_AUTH_SIGNOUT_REDIRECT_URL": logout_url(base_url),
    }


def portainer_oauth_settings(base_url: str, client: OidcClient, redirect_uri: str) -> str:
    """Portainer's `OAuthSettings` (API field names) without the client secret, as JSON.

    Users are created on first sign-in as standard users without access to any environment: an
    administrator grants access (or promotes to administrator) in Portainer itself, since CE maps no
    claim to Portainer roles. The gateway admits only platform admins to /portainer/ anyway.
    """
    return json.dumps(
        {
            "ClientID": client.client_id,
            "AuthorizationURI": auth_url(base_url),
            "AccessTokenURI": token_url(base_url),
            "ResourceURI": userinfo_url(base_url),
            "RedirectURI": redirect_uri,
            "LogoutURI": logout_url(base_url),
            "UserIdentifier": "email",
            "Scopes": " ".join(client.scopes),
            "OAuthAutoCreateUsers": True,
            "DefaultTeamID": 0,
            "SSO": True,
            "AuthStyle": 0,
        },
        indent=2,
        sort_keys=True,
    )
