"""Throwaway Pulumi projects for tests of the offline runner and the tools built on it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from infra.stack_files import REPO_ROOT


def make_project(tmp_path: Path, program: str, stack_config: dict | None = None) -> Path:
    """A throwaway Pulumi project: Pulumi.yaml, Pulumi.test.yaml and prog/__main__.py."""
    (tmp_path / "prog").mkdir()
    (tmp_path / "prog" / "__main__.py").write_text(textwrap.dedent(program))
    (tmp_path / "Pulumi.yaml").write_text(
        "name: proj\nruntime: python\nmain: prog/\nconfig:\n  greeting: hello\n"
        "  sizes:\n    value:\n      small: 1\n      large: 4\n"
    )
    body = {"config": stack_config or {}}
    (tmp_path / "Pulumi.test.yaml").write_text(json.dumps(body))
    return tmp_path


def check_with_a_fault(
    tmp_path: Path, stack: str, path: str, old: str, new: str
) -> subprocess.CompletedProcess:
    """`python -m infra.plan check STACK` on a copy of this project whose file `path` has `old` (which
    must stand there exactly once) replaced by `new`: a fault put back into the code, not the plan."""
    project = tmp_path / "project"
    shutil.copytree(
        REPO_ROOT,
        project,
        ignore=shutil.ignore_patterns(".git", ".venv", ".cache", "out", "tests", "bench", "docs", "*.zarr"),
    )
    source = project / path
    text = source.read_text()
    assert text.count(old) == 1, f"{path} no longer holds the text the fault replaces"
    source.write_text(text.replace(old, new))
    return subprocess.run(
        [sys.executable, "-m", "infra.plan", "check", stack], cwd=project, capture_output=True, text=True
    )
