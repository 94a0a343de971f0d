"""A demo cube for the use cases, built once per session by the commands a user types."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_cube(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`cube-engine demo-data` (10 days, with the fire product) then `cube-engine gen`."""
    root = tmp_path_factory.mktemp("uc-demo")
    for args in (["demo-data", str(root / "inputs")], ["gen", str(root / "inputs" / "cube.yaml")]):
        done = subprocess.run([str(BIN / "cube-engine"), *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    return root / "inputs" / "cube.zarr"
