"""JupyterHub: one JupyterLab server and one home volume per person, signed in through the platform.

Three services: `jupyter-proxy`, the configurable-http-proxy the gateway routes /jupyter to;
`jupyterhub`, the hub (authenticator, spawner, its small SQLite state); and `jupyter`, the template
of every person's server, declared with no replicas: the cube-engine image with the data services'
wiring (Dask scheduler, S3 endpoint and credential file, EODATA), on the data network, pinned to the
data home, labelled as a user workload. The hub copies the template's image, environment, Docker
secrets and bind mounts into each server it starts (`dockerspawner.SwarmSpawner`), so the plan's
policies check, on the template, what every notebook gets.

The hub talks to the Docker API of a manager through the socket: it runs on a manager, and whoever
controls it controls the swarm. It serves no user code and joins only the data network (the proxy
and the servers reach it there); its own API takes JupyterHub tokens only. Roles are enforced twice:
the gateway admits `scientist` and `admin` to /jupyter, and the hub admits only those JupyterHub
groups (the `role` claim), `admin` being a hub administrator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi

from components.catalogue.common import MANAGER, Context, python_http_check, secret_env_script
from components.data_access import DataAccess
from components.oidc import OidcClient
from components.render.jupyterhub import (
    BASE_PATH,
    CONFIG_PATH,
    HUB_PORT,
    PROXY_API_PORT,
    PROXY_PORT,
    STATE_DIR,
    TEMPLATE_NAME,
    HubSettings,
    render_jupyterhub_config,
)
from components.roles import USER_MODULE
from components.service_spec import (
    STOP_FIRST,
    ConfigFile,
    Healthcheck,
    HomepageEntry,
    HttpRoute,
    Mount,
    Resources,
    SecretFile,
    ServiceSpec,
)

JUPYTER_CLIENT = OidcClient("jupyter", "JupyterHub", redirect_paths=("/jupyter/hub/oauth_callback",))
PROXY_TOKEN = SecretFile("jupyterhub_proxy_token", "jupyterhub_proxy_token")
"""Shared by the hub and the proxy: the proxy's REST API (routes to servers) takes only this token."""
NOTEBOOK_UID = "1000"
"""The user of the cube-engine image (jovyan): it must read the secrets a server gets."""


@dataclass(frozen=True)
class UseCase:
    """A use case's notebook, as every person finds it in their JupyterHub home."""

    key: str
    title: str
    description: str

    @property
    def home_path(self) -> str:
        """Relative to the notebook folder: docker/cube-engine/Dockerfile copies it there."""
        return f"{USE_CASE_FOLDER}/{self.key}.py"

    @property
    def url(self) -> str:
        """JupyterHub's user-redirect opens the file in the signed-in person's own server."""
        return f"{BASE_PATH}hub/user-redirect/lab/tree/{self.home_path}"


USE_CASE_FOLDER = "usecases"
USE_CASES = (
    UseCase(
        "uc3_fire_danger",
        "UC3: next-day fire danger",
        "Gradient boosting on the cube's weather, satellite and static layers against climatology "
        "and persistence, with a danger map: a notebook in your home, computed on the Dask cluster.",
    ),
)
"""The use cases the Jupyter image ships (usecases/ in the repository)."""


def specs(
    ctx: Context,
    engine: str | pulumi.Output[str],
    notebook_env: Mapping[str, str | pulumi.Output[str]],
    access: DataAccess,
) -> list[ServiceSpec]:
    """The hub, the template of every person's server, and the proxy."""
    cfg = ctx.config.data
    settings = HubSettings(
        base_url=ctx.base_url,
        client=JUPYTER_CLIENT,
        prefix=ctx.prefix,
        network=ctx.network("data"),
        placement=ctx.placement.data_home,
    )
    token = f"$(cat /run/secrets/{PROXY_TOKEN.target})"
    hub = ServiceSpec(
        name="jupyterhub",
        image=engine,
        networks=("data",),
        constraints=(MANAGER, ctx.placement.admin_home),
        user="root",
        command=secret_env_script(
            {"CONFIGPROXY_AUTH_TOKEN": token, "OAUTH_CLIENT_SECRET": f"$(cat {JUPYTER_CLIENT.secret_file})"},
            f"jupyterhub -f {CONFIG_PATH}",
        ),
        configs=(ConfigFile("jupyterhub-config", CONFIG_PATH, render_jupyterhub_config(settings)),),
        secrets=(PROXY_TOKEN, SecretFile(JUPYTER_CLIENT.secret_key, JUPYTER_CLIENT.secret_key)),
        oidc_client=JUPYTER_CLIENT,
        mounts=(
            Mount("/var/run/docker.sock", "/var/run/docker.sock", "bind"),
            Mount(ctx.volume("jupyterhub-data"), STATE_DIR),
        ),
        resources=Resources(1.0, 1024, 0.1, 256),
        healthcheck=python_http_check(f"http://127.0.0.1:{HUB_PORT}{BASE_PATH}hub/health"),
        update=STOP_FIRST,
    )
    template = ServiceSpec(
        name=TEMPLATE_NAME,
        image=engine,
        replicas=0,
        networks=("data",),
        constraints=(ctx.placement.data_home,),
        command=("jupyterhub-singleuser",),
        env=dict(notebook_env),
        secrets=access.secrets(),
        secret_uid=NOTEBOOK_UID,
        mounts=access.mounts(),
        resources=Resources(settings.cpu_limit, settings.mem_limit_mb, 0.25, 1024),
        no_healthcheck_reason="a template with no replicas: the hub copies its wiring into each server",
        workload="user",
        after=("jupyterhub",),
    )
    proxy = ServiceSpec(
        name="jupyter-proxy",
        image=cfg.hub_proxy_image,
        networks=("data", "edge"),
        constraints=(ctx.placement.data_home,),
        command=secret_env_script(
            {"CONFIGPROXY_AUTH_TOKEN": token},
            "configurable-http-proxy --ip 0.0.0.0 --port "
            f"{PROXY_PORT} --api-ip 0.0.0.0 --api-port {PROXY_API_PORT} "
            f"--default-target http://jupyterhub:{HUB_PORT} "
            f"--error-target http://jupyterhub:{HUB_PORT}{BASE_PATH}hub/error",
        ),
        secrets=(PROXY_TOKEN,),
        resources=Resources(0.5, 256, 0.05, 64),
        healthcheck=Healthcheck(
            (
                "CMD",
                "node",
                "-e",
                f"require('net').connect({PROXY_PORT},'127.0.0.1').on('connect',()=>process.exit(0))"
                ".on('error',()=>process.exit(1))",
            )
        ),
        route=HttpRoute("/jupyter", PROXY_PORT, protected=True, roles=USER_MODULE),
        homepage=HomepageEntry(
            "Cube engine (JupyterHub)",
            "Your own JupyterLab with cube_engine; your files stay in your home volume.",
            "JL",
            "data",
            status_path=f"{BASE_PATH}hub/health",
        ),
        after=("jupyterhub",),
    )
    return [hub, template, proxy]
