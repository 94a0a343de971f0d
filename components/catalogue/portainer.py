"""Portainer: the server on a manager (its database on a node-local volume), the agent on every node.

Portainer starts with its `admin` password set from a Docker secret (`--admin-password-file`): no
first visitor can claim the instance. Sign-in for people is OAuth against the platform's OpenID
Connect provider; Portainer CE takes those settings only through its API, so the one-shot job
`portainer-sso` writes them (docker/sso/portainer_oauth.py). The `admin` account stays as the
break-glass login.
"""

from __future__ import annotations

from pathlib import Path

from components.catalogue.common import LINUX, MANAGER, Context
from components.oidc import OidcClient
from components.render.sso import portainer_oauth_settings
from components.roles import ADMIN_ONLY
from components.service_spec import (
    STOP_FIRST,
    ConfigFile,
    HomepageEntry,
    HttpRoute,
    Mount,
    Resources,
    SecretFile,
    ServiceSpec,
)

NO_SHELL = "the image has no shell or HTTP client to probe with; Swarm restarts the task if it exits"
PORTAINER_CLIENT = OidcClient("portainer", "Portainer", redirect_paths=("/portainer/",))
ADMIN_PASSWORD = SecretFile("portainer_admin_password", "portainer_admin_password")
SSO_SOURCE = Path(__file__).resolve().parents[2] / "docker" / "sso" / "portainer_oauth.py"
SSO_TARGET = "/opt/sso/portainer_oauth.py"
SSO_SETTINGS = "/opt/sso/portainer-oauth.json"


def specs(ctx: Context) -> list[ServiceSpec]:
    cfg = ctx.config.portainer
    if not cfg.enabled:
        return []
    agent_service = f"{ctx.prefix}-portainer-agent"
    return [
        ServiceSpec(
            name="portainer-agent",
            image=cfg.agent_image,
            mode="global",
            networks=("portainer",),
            constraints=(LINUX,),
            env={"AGENT_CLUSTER_ADDR": f"tasks.{agent_service}"},
            mounts=(
                Mount("/var/run/docker.sock", "/var/run/docker.sock", "bind"),
                Mount("/var/lib/docker/volumes", "/var/lib/docker/volumes", "bind"),
            ),
            resources=Resources(0.2, 128, 0.02, 32),
            no_healthcheck_reason=NO_SHELL,
            exposes="admin-api",  # the Docker engine of every node, on port 9001
        ),
        ServiceSpec(
            name="portainer",
            image=cfg.server_image,
            networks=("portainer", "admin"),
            constraints=(MANAGER, ctx.placement.admin_home),
            args=(
                "-H",
                f"tcp://tasks.{agent_service}:9001",
                "--tlsskipverify",
                "--admin-password-file",
                f"/run/secrets/{ADMIN_PASSWORD.target}",
            ),
            secrets=(ADMIN_PASSWORD, SecretFile(PORTAINER_CLIENT.secret_key, PORTAINER_CLIENT.secret_key)),
            oidc_client=PORTAINER_CLIENT,
            mounts=(Mount(ctx.volume("portainer-data"), "/data"),),
            resources=Resources(0.5, 512, 0.05, 64),
            no_healthcheck_reason=NO_SHELL,
            route=HttpRoute("/portainer", 9000, protected=True, strip_prefix=True, roles=ADMIN_ONLY),
            exposes="admin-ui",
            homepage=HomepageEntry(
                "Portainer", "Manage the Swarm: services, tasks, volumes, logs.", "PT", "portainer"
            ),
            update=STOP_FIRST,
            after=("portainer-agent",),
        ),
        ServiceSpec(
            name="portainer-sso",
            image=ctx.config.identity.gatekeeper_image,
            mode="job",
            networks=("portainer",),
            constraints=(LINUX,),
            user="65534:65534",
            secret_uid="65534",
            command=("python", "-I", SSO_TARGET),
            env={
                "PORTAINER_URL": "http://portainer:9000",
                "PORTAINER_ADMIN_PASSWORD_FILE": f"/run/secrets/{ADMIN_PASSWORD.target}",
                "PORTAINER_CLIENT_SECRET_FILE": PORTAINER_CLIENT.secret_file,
                "PORTAINER_OAUTH_SETTINGS": SSO_SETTINGS,
            },
            configs=(
                ConfigFile("program", SSO_TARGET, SSO_SOURCE.read_text()),
                ConfigFile(
                    "oauth-settings",
                    SSO_SETTINGS,
                    portainer_oauth_settings(
                        ctx.base_url, PORTAINER_CLIENT, PORTAINER_CLIENT.redirect_uris(ctx.base_url)[0]
                    ),
                ),
            ),
            secrets=(ADMIN_PASSWORD, SecretFile(PORTAINER_CLIENT.secret_key, PORTAINER_CLIENT.secret_key)),
            resources=Resources(0.1, 64),
            no_healthcheck_reason="one-shot job: waits for Portainer itself, exits once OAuth is set",
            after=("portainer",),
        ),
    ]
