"""The `CUBE_ENGINE_*` variables are one typed settings model: each variable sets its field, an
empty one means the default, and a bad value is one line naming the variable (exit code 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cube_engine.cli import app
from cube_engine.errors import ConfigError
from cube_engine.settings import EngineSettings, load_settings

ENV = {
    "CUBE_ENGINE_TASK_MB": ("task_mb", "0.5", 0.5),
    "CUBE_ENGINE_MAX_OPEN_FILES": ("max_open_files", "7", 7),
    "CUBE_ENGINE_NC_CHUNK_CACHE_MB": ("nc_chunk_cache_mb", "8", 8.0),
    "CUBE_ENGINE_MALLOC_TUNING": ("malloc_tuning", "0", False),
    "CUBE_ENGINE_CACHE": ("cache", "/tmp/elsewhere", Path("/tmp/elsewhere")),
    "CUBE_ENGINE_LOCK_TTL": ("lock_ttl", "60", 60.0),
    "CUBE_ENGINE_DEEP_VALIDATE_MB": ("deep_validate_mb", "1", 1.0),
}


@pytest.fixture
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_every_variable_sets_its_field(clean_env):
    defaults = load_settings()
    assert set(EngineSettings.model_fields) == {field for field, _, _ in ENV.values()}
    for name, (field, text, value) in ENV.items():
        clean_env.setenv(name, text)
        assert getattr(load_settings(), field) == value, name
        assert getattr(defaults, field) != value, name  # the test value is not the default
    assert defaults.task_budget == 64 * 2**20 and defaults.malloc_tuning is True


def test_an_empty_variable_means_the_default(clean_env):
    clean_env.setenv("CUBE_ENGINE_LOCK_TTL", "")
    clean_env.setenv("CUBE_ENGINE_TASK_MB", "")
    settings = load_settings()
    assert settings.lock_ttl == 24 * 3600 and settings.task_mb == 64


@pytest.mark.parametrize(
    ("name", "text"), [("CUBE_ENGINE_TASK_MB", "lots"), ("CUBE_ENGINE_MAX_OPEN_FILES", "0")]
)
def test_a_bad_value_names_the_variable(clean_env, name, text):
    clean_env.setenv(name, text)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_a_bad_value_is_one_line_and_exit_2_on_the_command_line(clean_env, config_path):
    clean_env.setenv("CUBE_ENGINE_TASK_MB", "-1")
    result = CliRunner().invoke(app, ["gen", str(config_path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "CUBE_ENGINE_TASK_MB" in lines[0], result.output
    assert not (config_path.parent / "cube.zarr").exists()
