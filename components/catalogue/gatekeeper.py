"""The gatekeeper: the role check behind the gateway's `forward_auth` (see docker/gatekeeper).

Its program is one standard-library Python file, so it runs in the stock, pinned Python image with
the file mounted as a content-named Swarm config: no image to build or push, and a changed program
is a new config that rolls the service. It needs Kratos' public API (sessions) and Hydra's admin API
(token introspection for machines), both on the `identity` network, where it lives alone; the gateway
asks it for every protected route and routes `/whoami` to it for the homepage.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from components.catalogue.common import LINUX, Context, python_http_check
from components.oidc import OidcClient
from components.service_spec import ConfigFile, HttpRoute, Resources, ServiceSpec

SOURCE = Path(__file__).resolve().parents[2] / "docker" / "gatekeeper" / "gatekeeper.py"
TARGET = "/opt/gatekeeper/gatekeeper.py"
PORT = 4180
UPSTREAM = f"gatekeeper:{PORT}"
"""What the gateway's `forward_auth` dials (the service's alias on the identity network)."""
NOBODY = "65534:65534"
WHOAMI_PATH = "/whoami"


def client_roles(machines: Sequence[OidcClient]) -> str:
    """`GATEKEEPER_CLIENT_ROLES`: the role each machine client's tokens carry, `id=role,...`."""
    return ",".join(f"{c.client_id}={c.role}" for c in machines if c.machine and c.role)


def spec(ctx: Context, machines: Sequence[OidcClient] = ()) -> ServiceSpec:
    """Two replicas: every protected request waits for this check, so one restart must not lock users out."""
    return ServiceSpec(
        name="gatekeeper",
        image=ctx.config.identity.gatekeeper_image,
        networks=("identity",),
        constraints=(LINUX,),
        replicas=2,
        user=NOBODY,
        command=("python", "-I", TARGET),
        env={
            "KRATOS_PUBLIC_URL": "http://kratos:4433",
            "HYDRA_ADMIN_URL": "http://hydra:4445",
            "GATEKEEPER_CLIENT_ROLES": client_roles(machines),
            "GATEKEEPER_LISTEN": f"0.0.0.0:{PORT}",
        },
        configs=(ConfigFile("program", TARGET, SOURCE.read_text()),),
        resources=Resources(0.25, 64, 0.02, 24),
        healthcheck=python_http_check(f"http://127.0.0.1:{PORT}/health"),
        route=HttpRoute(WHOAMI_PATH, PORT, protected=False),
        after=("kratos",),
    )
