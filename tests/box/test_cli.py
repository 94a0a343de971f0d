"""Bad command lines are one line and exit 2, before anything starts."""

from __future__ import annotations

import pytest

from infra.box.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--set", "no-equals"], "expected KEY=VALUE"), (["--set", "=1"], "expected KEY=VALUE")],
)
def test_bad_overrides(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("box: error:") and message in err
