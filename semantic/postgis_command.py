"""`semantic postgis start|stop`: the private PostGIS the demo and the tests use, for a shell session.

A user trying the `semantic` commands on a laptop needs a database to point them at. This starts
the same throwaway cluster as the demo (loopback only, its own socket folder and port, PostGIS
installed, the bulk-load settings) in a folder outside the work tree and prints the line that
exports its DSN, so `eval "$(semantic postgis start)"` is all it takes; `stop` stops it and
removes the folder, leaving nothing behind.
"""

from __future__ import annotations

import json
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from deepcube.cli import CliApp
from semantic.boundary import BOUNDARY
from semantic.database import DSN_ENV
from semantic.errors import SemanticError
from semantic.local_postgis import LocalPostgis, PostgisUnavailable

DEFAULT_DIR = Path(tempfile.gettempdir()) / "deepcube-postgis"
"""Among the user's temporary files ($TMPDIR, else /tmp): outside the work tree, and a session
with its own $TMPDIR gets a cluster of its own."""
STATE_FILE = "cluster.json"

app = CliApp(
    BOUNDARY, nested=True, help="A private PostGIS on 127.0.0.1 for trying the commands (start, stop)."
)
DirOption = Annotated[Path, typer.Option("--dir", help="Folder of the cluster (outside the work tree).")]


class LocalDatabaseError(SemanticError):
    """The private PostGIS cannot be started or stopped."""


def start_cluster(root: Path) -> LocalPostgis:
    if (root / STATE_FILE).exists():
        raise LocalDatabaseError(f"a cluster already lives in {root}: `semantic postgis stop --dir {root}`")
    if root.exists() and any(root.iterdir()):
        raise LocalDatabaseError(f"{root} is not empty: choose another --dir")
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    cluster = LocalPostgis(root=root / "cluster")
    try:
        cluster.start()
    except PostgisUnavailable as exc:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise LocalDatabaseError(f"PostGIS did not start: {exc}") from None
    (root / STATE_FILE).write_text(json.dumps({"port": cluster.port, "dsn": cluster.dsn}))
    return cluster


def stop_cluster(root: Path) -> None:
    state = root / STATE_FILE
    if not state.exists():
        raise LocalDatabaseError(f"no cluster in {root}")
    port = json.loads(state.read_text())["port"]
    LocalPostgis(root=root / "cluster", port=port).stop()
    shutil.rmtree(root)


@app.command()
def start(directory: DirOption = DEFAULT_DIR) -> None:
    """Start it and print `export DEEPCUBE_DSN=...`: run as `eval "$(semantic postgis start)"`."""
    cluster = start_cluster(directory)
    print(f"export {DSN_ENV}={shlex.quote(cluster.dsn)}")


@app.command()
def stop(directory: DirOption = DEFAULT_DIR) -> None:
    """Stop it and remove its folder."""
    stop_cluster(directory)
    print(f"stopped; removed {directory}")
