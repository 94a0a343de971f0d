"""The tree stays ruff-clean: lint runs with the tests so CI enforces it."""

import subprocess
import sys

from infra.stack_files import REPO_ROOT


def test_ruff_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
