"""The one command-line boundary: every tool says bad input the same way.

In process, a small app shows the rules (one literal line, exit codes, Ctrl-C, the global
`--traceback`); then each of the three real tools runs as a user runs it, with an input that raises
its own error and with an unknown option, before any database or cloud is contacted.
"""

from __future__ import annotations

import subprocess
import sys
from enum import StrEnum
from pathlib import Path

import pytest
import yaml

from deepcube.cli import Boundary, CliApp

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class AppError(Exception):
    """The small app's own error: bad input, not a bug."""


class Colour(StrEnum):
    red = "red"
    blue = "blue"


def small_app() -> CliApp:
    app = CliApp(Boundary("tool", AppError), no_args_is_help=True)

    @app.command()
    def fail(text: str) -> None:
        raise AppError(text)

    @app.command()
    def interrupt() -> None:
        raise KeyboardInterrupt

    @app.command()
    def paint(colour: Colour) -> None:
        """Only the choices are valid."""

    @app.command()
    def check() -> None:
        app.boundary.fail("2 problems, the first: x", code=1)

    return app


def run_small(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        small_app()(args=args, prog_name="tool")
    return info.value.code, capsys.readouterr().err


def test_an_error_is_one_literal_line_with_exit_code_2(capsys):
    code, err = run_small(["fail", "[red]bad[/red] value\n  on   two lines"], capsys)
    assert (code, err) == (2, "tool: error: [red]bad[/red] value on two lines\n")


def test_usage_mistakes_are_one_line_naming_where_to_look(capsys):
    code, err = run_small(["fail", "x", "--nope"], capsys)
    assert (code, err) == (2, "tool: error: No such option: --nope (see `tool fail --help`)\n")
    code, err = run_small(["nosuch"], capsys)
    assert code == 2 and err.startswith("tool: error: No such command 'nosuch'") and err.count("\n") == 1
    code, err = run_small(["paint", "green"], capsys)
    expected = "tool: error: Invalid value for 'colour': 'green' is not one of 'red', 'blue'."
    assert (code, err) == (2, f"{expected} (see `tool paint --help`)\n")


def test_ctrl_c_and_own_exit_codes(capsys):
    assert run_small(["interrupt"], capsys) == (130, "tool: interrupted\n")
    assert run_small(["check"], capsys) == (1, "tool: error: 2 problems, the first: x\n")


def test_traceback_is_a_global_option_and_an_environment_variable(capsys, monkeypatch):
    with pytest.raises(AppError, match="shown"):
        small_app()(args=["--traceback", "fail", "shown"], prog_name="tool")
    code, err = run_small(["fail", "--traceback"], capsys)  # after the command it is no option of it
    assert code == 2 and "No such option: --traceback" in err
    monkeypatch.setenv("DEEPCUBE_TRACEBACK", "1")
    with pytest.raises(AppError, match="from the environment"):
        small_app()(args=["fail", "from the environment"], prog_name="tool")


def write_typo_cube(folder: Path) -> Path:
    config = folder / "typo.yaml"
    sources = [{"name": "a", "paths": ["a/*.nc"], "variables": [{"name": "v"}]}]
    grid = {"bbox": [0, 0, 1, 1], "resolutoin": 0.1}
    config.write_text(yaml.safe_dump({"sources": sources, "grid": grid, "output": {"path": "c.zarr"}}))
    return config


# tool: (command, arguments raising its own error (`{tmp}`: a temporary folder), words of that line)
TOOLS = {
    "cube-engine": (
        [str(BIN / "cube-engine")],
        ["gen", "{tmp}/typo.yaml"],
        "unknown key 'resolutoin' (did you mean 'resolution'?)",
    ),
    "semantic": (
        [str(BIN / "semantic")],
        ["load", "{tmp}/absent.zarr", "--dsn", "postgresql://nobody@127.0.0.1:9/none"],
        "absent.zarr: not found",
    ),
    "infra.plan": (
        [sys.executable, "-m", "infra.plan"],
        ["show", "ovh", "--set", "nosuch.count=1"],
        "no config key 'nosuch'",
    ),
}


@pytest.mark.parametrize("prog", list(TOOLS))
def test_every_tool_says_bad_input_the_same_way(prog, tmp_path):
    command, bad, words = TOOLS[prog]
    write_typo_cube(tmp_path)
    args = [a.format(tmp=tmp_path) for a in bad]

    def run(*extra: str, before: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *before, *args, *extra], cwd=REPO, capture_output=True, text=True, timeout=120
        )

    for done, expected in ((run(), words), (run("--nope"), "No such option: --nope (see `")):
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.splitlines()
        assert line.startswith(f"{prog}: error: ") and expected in line, line
    loud = run(before=("--traceback",))
    assert loud.returncode not in (0, 2)
    assert "Traceback (most recent call last)" in loud.stderr and words in loud.stderr.splitlines()[-1]
