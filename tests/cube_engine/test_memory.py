"""glibc heap tuning is the `cube-engine` command's, never the library's: running the API leaves
the process's allocator alone; the command tunes it while it builds a cube and restores glibc's
defaults afterwards."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cube_engine import api, memory
from cube_engine.cli import app
from cube_engine.config import load_config
from tests.cube_engine.conftest import write_config


class FakeLibc:
    """Records mallopt/malloc_trim calls and whether tuning was reported active meanwhile."""

    def __init__(self):
        self.calls: list[tuple] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def libc(monkeypatch):
    fake = FakeLibc()
    monkeypatch.setattr(memory, "glibc", lambda: fake)
    monkeypatch.delenv("CUBE_ENGINE_MALLOC_TUNING", raising=False)
    return fake


def test_the_api_never_touches_the_allocator(workspace, libc, monkeypatch):
    seen = []
    original = api.execute

    def watching(*args, **kwargs):
        seen.append(memory.heap_tuning_active())
        return original(*args, **kwargs)

    monkeypatch.setattr(api, "execute", watching)
    result = api.gen(load_config(write_config(workspace)))
    assert result.tasks > 0 and seen == [False]
    assert libc.calls == []
    assert not memory.heap_tuning_active()


def test_the_command_tunes_while_it_builds_and_restores_the_defaults(workspace, libc, monkeypatch):
    seen = []
    original = api.execute

    def watching(*args, **kwargs):
        seen.append((memory.heap_tuning_active(), len(libc.calls)))
        return original(*args, **kwargs)

    monkeypatch.setattr(api, "execute", watching)
    result = CliRunner().invoke(app, ["gen", str(write_config(workspace))])
    assert result.exit_code == 0, result.output
    assert seen == [(True, 3)]  # the three tuned parameters were set before the pipeline ran
    assert libc.calls[:3] == [("mallopt", p, v) for p, v in memory._TUNED]
    assert libc.calls[3:] == [*(("mallopt", p, v) for p, v in memory._MALLOC_DEFAULTS), ("malloc_trim", 0)]
    assert not memory.heap_tuning_active()


def test_the_command_leaves_the_allocator_alone_when_tuning_is_off(workspace, libc, monkeypatch):
    monkeypatch.setenv("CUBE_ENGINE_MALLOC_TUNING", "0")
    result = CliRunner().invoke(app, ["gen", str(write_config(workspace))])
    assert result.exit_code == 0, result.output
    assert libc.calls == []
