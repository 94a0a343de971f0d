"""The README's `cube-engine` examples run as written, in order, in an empty folder standing for a
fresh clone's work tree (`cube-engine` on PATH from the virtualenv), and leave nothing outside
`out/` (which the repository ignores) and nothing stray inside it (lock files, staging folders)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STRAY = ("*.lock", "*.staging-*", "*.append-*", ".cube-engine-probe-*", "*.partial", ".*.png")


def readme_commands() -> list[list[str]]:
    """Every `cube-engine` line of the bash blocks in the README's cube-engine section."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Cubes: `cube-engine`", 1)[1].split("\n## ", 1)[0]
    commands, in_bash = [], False
    for line in section.splitlines():
        if line.startswith("```"):
            in_bash = line.strip() == "```bash"
            continue
        if in_bash and line.startswith("cube-engine "):
            commands.append(shlex.split(line, comments=True))
    return commands


def test_the_readme_section_has_the_whole_workflow():
    verbs = [command[1] for command in readme_commands()]
    assert verbs == ["demo-data", "gen", "demo-data", "append", "rechunk", "info", "validate", "preview"]


def test_readme_commands_run_as_written_and_leave_no_stray_files(tmp_path):
    clone = tmp_path / "clone"
    clone.mkdir()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env = {k: v for k, v in env.items() if not k.startswith("CUBE_ENGINE_")}
    for command in readme_commands():
        done = subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stderr)
        assert done.stderr == "", (command, done.stderr)
        assert done.stdout.strip(), command
    assert sorted(p.name for p in clone.iterdir()) == ["out"]
    assert "/out/" in (REPO / ".gitignore").read_text().splitlines()
    stray = sorted(str(p.relative_to(clone)) for pattern in STRAY for p in clone.rglob(pattern))
    assert stray == []
    cube = xr.open_zarr(clone / "out/sample/cube.zarr", consolidated=True)
    assert cube.sizes["time"] == 20  # 10 days built, 10 appended
    assert str(cube.time.values[-1])[:10] == "2024-06-20"
    assert (clone / "out/sample/ndvi.png").read_bytes()[:4] == b"\x89PNG"
    assert xr.open_zarr(clone / "out/sample/ts.zarr").ndvi.encoding["chunks"] == (20, 64, 64)
