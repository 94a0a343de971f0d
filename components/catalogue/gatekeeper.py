"""The gatekeeper: the role check behind the gateway's `forward_auth` (see docker/gatekeeper).

Its program is one standard-library Python file, so it runs in the stock, pinned Python image with
the file mounted as a content-named Swarm config: no image to build or push, and a changed program
is a new config that rolls the service. It needs Kratos' public API only, and only the gateway asks
it, so it lives on the `identity` network alone.
"""

from __future__ import annotations

from pathlib import Path

from components.catalogue.common import LINUX, Context, python_http_check
from components.service import ConfigFile, Resources, ServiceSpec

SOURCE = Path(__file__).resolve().parents[2] / "docker" / "gatekeeper" / "gatekeeper.py"
TARGET = "/opt/gatekeeper/gatekeeper.py"
PORT = 4180
UPSTREAM = f"gatekeeper:{PORT}"
"""What the gateway's `forward_auth` dials (the service's alias on the identity network)."""
NOBODY = "65534:65534"


def spec(ctx: Context) -> ServiceSpec:
    """Two replicas: every protected request waits for this check, so one restart must not lock users out."""
    return ServiceSpec(
        name="gatekeeper",
        image=ctx.config.identity.gatekeeper_image,
        networks=("identity",),
        constraints=(LINUX,),
        replicas=2,
        user=NOBODY,
        command=("python", "-I", TARGET),
        env={"KRATOS_PUBLIC_URL": "http://kratos:4433", "GATEKEEPER_LISTEN": f"0.0.0.0:{PORT}"},
        configs=(ConfigFile("program", TARGET, SOURCE.read_text()),),
        resources=Resources(0.25, 64, 0.02, 24),
        healthcheck=python_http_check(f"http://127.0.0.1:{PORT}/health"),
        after=("kratos",),
    )
