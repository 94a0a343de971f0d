"""The engine's environment settings: every `CUBE_ENGINE_*` variable, typed, in one model.

They tune resources, not results: a cube is the same whatever they say. They are read where they
are needed and when: once per run for what a run uses (`load_settings()` while the plan is built:
the task memory budget), once per process for what the process owns
(`process_settings()`: the open-file cache and netCDF's chunk cache, shared by every run of a
Dask worker or a notebook), and at the moment of use for the download cache folder and lock
expiry (a test or a notebook may change them between runs).

A bad value is one line naming the variable (a `ConfigError` in the platform's one form, see
`deepcube.config_errors`), never a traceback.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from deepcube.config_errors import describe_validation_error

from .errors import ConfigError

ENV_PREFIX = "CUBE_ENGINE_"


def _default_cache() -> Path:
    return Path(tempfile.gettempdir()) / "cube-engine-cache"


class EngineSettings(BaseSettings):
    """`CUBE_ENGINE_<FIELD>` (upper case) sets each field; an empty variable means the default."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore", frozen=True, case_sensitive=False
    )

    task_mb: float = Field(
        64.0,
        gt=0,
        description="Decoded source input per chunk task (MiB): bands of output tiles are as large as "
        "this allows, so each file window is decoded once per time block.",
    )
    max_open_files: int = Field(48, ge=1, description="Source file handles kept open per process.")
    nc_chunk_cache_mb: float = Field(
        2.0,
        ge=0,
        description="netCDF-C chunk cache per chunked variable (MiB); its 64 MiB default times dozens "
        "of open files was most of the peak memory, and a task reads each window once anyway.",
    )
    malloc_tuning: bool = Field(
        True,
        description="Let the `cube-engine` command keep freed memory in glibc's heap while it builds "
        "a cube (see `memory.py`); the library never changes it.",
    )
    cache: Path = Field(
        default_factory=_default_cache, description="Folder where remote NetCDF/GeoTIFF files are cached."
    )
    lock_ttl: float = Field(
        24 * 3600.0, gt=0, description="Seconds after which a cube's lock left by another host is stale."
    )
    deep_validate_mb: float = Field(
        512.0, ge=0, description="`validate` decodes every chunk of cubes up to this size (MiB) by default."
    )

    @property
    def task_budget(self) -> int:
        """`task_mb` in bytes."""
        return int(self.task_mb * 2**20)


def load_settings() -> EngineSettings:
    """The settings as the environment says now (a `ConfigError` naming the variable if invalid)."""
    try:
        return EngineSettings()
    except ValidationError as exc:
        line = describe_validation_error(exc, EngineSettings, location=_variable)
        raise ConfigError(line) from None


def _variable(path: tuple) -> str:
    """A settings field as the environment variable that sets it."""
    return ENV_PREFIX + (str(path[0]).upper() if path else "*")


@functools.cache
def process_settings() -> EngineSettings:
    """The settings of the process-wide resources, read once per process (see the module docstring)."""
    return load_settings()
