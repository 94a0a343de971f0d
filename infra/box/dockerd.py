"""The box's own Docker engine: private socket, pidfile, exec-root and data-root under the cache.

It is never the system daemon: every path is the box's, containerd runs in its own namespace, and
no default bridge is made (`--bridge none`), so the host gets exactly one new interface, the box's
node network. The data-root stays between runs: the image cache is what makes a warm run fast.
The engine is stopped by the pid the box started, and whatever interfaces or mounts it leaves are
removed afterwards, only those that did not exist before the box started.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import docker
from infra.box import BoxError

DOCKERD = "/usr/sbin/dockerd"
LEFTOVER_LINKS = re.compile(
    r"^(docker0|docker_gwbridge|veth[0-9a-f]+|vx-.*|br-[0-9a-f]{12}|deepcube-box\d*)$"
)


@dataclass(frozen=True)
class Layout:
    """Every path the box writes, under one cache root (kept between runs)."""

    root: Path

    @property
    def data_root(self) -> Path:
        return self.root / "engine" / "data"

    @property
    def exec_root(self) -> Path:
        return self.root / "engine" / "exec"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def socket(self) -> Path:
        return self.run / "docker.sock"

    @property
    def pidfile(self) -> Path:
        return self.run / "dockerd.pid"

    @property
    def log(self) -> Path:
        return self.run / "dockerd.log"

    @property
    def wheelhouse(self) -> Path:
        return self.root / "wheelhouse"

    @property
    def ca(self) -> Path:
        return self.root / "ca"

    @property
    def scratch(self) -> Path:
        return self.root / "tmp"

    def node(self, hostname: str) -> Path:
        return self.root / "nodes" / hostname


def links() -> set[str]:
    """Names of the host's network interfaces."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


def mounts_under(root: Path) -> list[str]:
    """Mount points below `root` (overlay layers, network namespaces), deepest first."""
    points = []
    for line in Path("/proc/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point.startswith(str(root) + "/"):
            points.append(point)
    return sorted(points, key=len, reverse=True)


class Engine:
    """One dockerd started and stopped by the box."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.process: subprocess.Popen[bytes] | None = None
        self.links_before: set[str] = set()

    @property
    def url(self) -> str:
        return f"unix://{self.layout.socket}"

    def api(self, timeout: int = 600) -> docker.APIClient:
        return docker.APIClient(base_url=self.url, timeout=timeout, version="1.41")

    def start(self) -> None:
        """Start dockerd with the box's paths and wait until it answers (a stale one is stopped first)."""
        if not Path(DOCKERD).exists():
            raise BoxError(f"{DOCKERD} not found: install Debian's docker.io (scripts/bootstrap does)")
        self.stop_stale()
        for path in (self.layout.data_root, self.layout.exec_root, self.layout.run):
            path.mkdir(parents=True, exist_ok=True)
        self.links_before = links()
        log = self.layout.log.open("wb")
        self.process = subprocess.Popen(
            [
                DOCKERD,
                "--data-root",
                str(self.layout.data_root),
                "--exec-root",
                str(self.layout.exec_root),
                "--pidfile",
                str(self.layout.pidfile),
                "--host",
                self.url,
                "--bridge",
                "none",
                "--containerd-namespace",
                "deepcube-box",
                "--containerd-plugins-namespace",
                "deepcube-box-plugins",
                "--log-level",
                "warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the box, which stops the engine in order
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BoxError(f"dockerd exited with {self.process.returncode}; see {self.layout.log}")
            with contextlib.suppress(Exception):
                self.api(timeout=5).ping()
                return
            time.sleep(0.3)
        raise BoxError(f"dockerd did not answer on {self.layout.socket} within 60 s; see {self.layout.log}")

    def stop_stale(self) -> None:
        """A dockerd left by an interrupted run (its pidfile names a live dockerd): stop it."""
        pid = _pid_from(self.layout.pidfile)
        if pid is not None and _is_dockerd(pid):
            _terminate(pid, 30)
        self.cleanup_mounts()

    def stop(self) -> None:
        """Stop the engine by its pid, then remove mounts and interfaces it left behind."""
        pid = self.process.pid if self.process is not None else _pid_from(self.layout.pidfile)
        if pid is not None and _is_dockerd(pid):
            _terminate(pid, 30)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        self.cleanup_mounts()
        self.cleanup_links()

    def cleanup_mounts(self) -> None:
        for point in mounts_under(self.layout.root):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)

    def cleanup_links(self) -> list[str]:
        """Delete interfaces that appeared while the box ran and look like Docker's; returns them."""
        removed = []
        for name in sorted(links() - self.links_before):
            if LEFTOVER_LINKS.match(name):
                subprocess.run(["ip", "link", "delete", name], capture_output=True, check=False)
                removed.append(name)
        return removed


def _pid_from(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _is_dockerd(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd"
    except OSError:
        return False


def _terminate(pid: int, grace_s: float) -> None:
    """SIGTERM, wait up to `grace_s`, then SIGKILL: dockerd stops its containers on SIGTERM."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or _zombie(pid):
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
