"""Throwaway Pulumi projects for tests of the offline runner and the tools built on it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path


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
