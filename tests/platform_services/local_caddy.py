"""A real Caddy on 127.0.0.1 serving a rendered Caddyfile, for the gateway tests."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from components.render.caddyfile import CaddySite, render_caddyfile
from tests.platform_services.conftest import tool
from tests.services import wait_for_port


@contextmanager
def running_caddy(site: CaddySite, root: Path, port: int) -> Iterator[None]:
    """Caddy serving `site` (listening on `port`), its state and log under `root`; stopped on exit."""
    caddyfile = root / "Caddyfile"
    caddyfile.write_text(render_caddyfile(site))
    env = {
        **os.environ,
        "HOME": str(root),
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_CONFIG_HOME": str(root / "cfg"),
    }
    with (root / "caddy.log").open("w") as log:
        process = subprocess.Popen(
            [tool("caddy"), "run", "--adapter", "caddyfile", "--config", str(caddyfile)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            wait_for_port(port, timeout=20, process=process)
            yield
        finally:
            process.terminate()
            process.wait(timeout=10)
