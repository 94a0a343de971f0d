"""Tiny synthetic inputs for the cube-engine tests (generated once per session)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cube_engine.demo import sample_config, write_sample
from cube_engine.demo_fields import DEMO, SampleSpec

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALL = SampleSpec(size=1.0, days=6, statics=True)  # 100x100 target, 6 days


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    write_sample(root, SMALL)
    return root


@pytest.fixture
def workspace(sample_root: Path, tmp_path: Path) -> Path:
    """A per-test folder with links to the shared inputs; write configs and cubes here."""
    for child in sample_root.iterdir():
        (tmp_path / child.name).symlink_to(child)
    return tmp_path


def write_config(folder: Path, name: str = "cube.yaml", spec: SampleSpec = SMALL, **overrides) -> Path:
    data = sample_config(spec, chunks={"time": 4, "y": 50, "x": 50})
    for key, value in overrides.items():
        data[key] = value
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def config_path(workspace: Path) -> Path:
    return write_config(workspace)


__all__ = ["DEMO", "SMALL", "diff_snapshots", "shutil", "tree_snapshot", "write_config"]


def start_slow(args: list[str], delay: float = 0.25, publish_delay: float = 0.0) -> subprocess.Popen:
    """`cube-engine ARGS` in a subprocess, each chunk task slowed down by `delay` seconds (and each
    object moved while publishing an append by `publish_delay`) so a test can kill it mid-write;
    the slowing is done from outside the engine (`tests.cube_engine.slow_cli`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.cube_engine.slow_cli", str(delay), str(publish_delay), *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def tree_snapshot(folder: Path) -> dict[str, bytes]:
    """Every entry under `folder`: file bytes, symlink targets (not followed), folders as b"/"."""
    found: dict[str, bytes] = {}
    if not folder.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        for name in dirnames + filenames:
            path = base / name
            key = str(path.relative_to(folder))
            if path.is_symlink():
                found[key] = b"-> " + os.fsencode(os.readlink(path))
            elif path.is_dir():
                found[key] = b"/"
            else:
                found[key] = path.read_bytes()
        dirnames[:] = [d for d in dirnames if not (base / d).is_symlink()]
    return found


def diff_snapshots(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    """What changed between two snapshots: '+added', '-removed', '~changed' names."""
    return sorted(
        [f"+{k}" for k in after.keys() - before.keys()]
        + [f"-{k}" for k in before.keys() - after.keys()]
        + [f"~{k}" for k in before.keys() & after.keys() if before[k] != after[k]]
    )
