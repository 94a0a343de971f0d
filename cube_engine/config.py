"""The cube configuration: YAML -> pydantic model -> normalised, validated `CubeConfig`.

Every validation problem is reported in the platform's one form, "Invalid configuration: <msg> for
<dotted.path>" (`deepcube.config_errors`; the file it is in follows, when there is one), so a user
can find the offending key in the YAML without reading a traceback.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from deepcube.config_errors import describe_validation_error, in_file

from .constants import (
    CHUNK_PRESETS,
    Aggregation,
    ChunkPreset,
    CompressorName,
    ResamplingMethod,
    SourceFormat,
    ZarrFormat,
)
from .errors import ConfigError

HINTS = {
    "chunks": "expected a preset ({}) or a mapping such as {{time: 8, y: 256, x: 256}}".format(
        " or ".join(repr(p) for p in CHUNK_PRESETS)
    ),
}
"""What a key expects, in the cube's words, when its value has the wrong type."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VariableConfig(_Model):
    """One variable taken from a source."""

    name: str = Field(description="Variable name in the source (for GeoTIFF: any label, see `band`).")
    rename: str | None = Field(None, description="Name in the cube (defaults to `name`).")
    band: int = Field(1, ge=1, description="GeoTIFF band number (1-based).")
    units: str | None = Field(None, description="Units in the cube (defaults to the source's `units`).")
    long_name: str | None = None
    standard_name: str | None = None
    scale: float = Field(1.0, description="Applied after the file's own CF decoding: v * scale + offset.")
    offset: float = 0.0
    fill_value: float | None = Field(None, description="Raw value meaning 'missing' (overrides the file's).")
    resampling: ResamplingMethod | None = Field(None, description="Overrides the source's resampling.")
    aggregation: Aggregation | None = Field(None, description="Overrides the time axis aggregation.")

    @property
    def output_name(self) -> str:
        return self.rename or self.name


class SourceConfig(_Model):
    """A product: files (local paths/globs, http(s) URLs or s3:// URLs) sharing one grid."""

    name: str
    paths: list[str] = Field(min_length=1, description="Paths, globs or URLs; relative to the config file.")
    format: SourceFormat = "auto"
    variables: list[VariableConfig] = Field(min_length=1)
    resampling: ResamplingMethod = "auto"
    static: bool = Field(False, description="A layer without time (DEM, land cover).")
    time_pattern: str | None = Field(
        None, description="strftime-like pattern found in file names, e.g. 'NDVI_%Y%m%d' (GeoTIFF)."
    )
    crs: str | None = Field(None, description="Source CRS when the files do not say (e.g. 'EPSG:32633').")
    storage_options: dict[str, Any] = Field(
        default_factory=dict, description="fsspec options (s3 endpoint...)"
    )

    @model_validator(mode="after")
    def _check(self) -> SourceConfig:
        names = [v.output_name for v in self.variables]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate output variable {dupes[0]!r}")
        return self


class GridConfig(_Model):
    """The target grid: pixel edges span `bbox` exactly (xmin, ymin, xmax, ymax in CRS units)."""

    crs: str = "EPSG:4326"
    bbox: tuple[float, float, float, float]
    resolution: float | tuple[float, float] = Field(description="Pixel size (x, y) in CRS units.")

    @field_validator("crs")
    @classmethod
    def _crs(cls, value: str) -> str:
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            CRS.from_user_input(value)
        except CRSError:
            raise ValueError(f"unknown CRS {value!r}") from None
        return value

    @field_validator("bbox")
    @classmethod
    def _bbox(cls, value: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        if not (value[0] < value[2] and value[1] < value[3]):
            raise ValueError(f"bbox must be (xmin, ymin, xmax, ymax) with min < max, got {list(value)}")
        return value

    @field_validator("resolution")
    @classmethod
    def _res(cls, value: float | tuple[float, float]) -> float | tuple[float, float]:
        values = value if isinstance(value, tuple) else (value,)
        if any(v <= 0 for v in values):
            raise ValueError(f"resolution must be positive, got {value}")
        return value


class TimeConfig(_Model):
    """The time axis: period starts from `start` to `end` (inclusive) every `frequency`."""

    start: str
    end: str | None = Field(
        None,
        description="Last period start (inclusive). Omit it for an open-ended axis: `gen` ends with the "
        "period of the latest observation, and `append` adds whatever the sources hold after the cube.",
    )
    frequency: str = "1D"
    aggregation: Aggregation = "mean"

    @model_validator(mode="after")
    def _check(self) -> TimeConfig:
        try:
            start = pd.Timestamp(self.start)
            end = pd.Timestamp(self.end) if self.end is not None else None
        except ValueError as exc:
            raise ValueError(f"not a date: {exc}") from None
        try:
            pd.tseries.frequencies.to_offset(self.frequency)
        except ValueError:
            raise ValueError(f"unknown frequency {self.frequency!r} (try '1D', '8D', '1h', 'MS')") from None
        if end is not None and end < start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class ChunkConfig(_Model):
    """Either a preset for the access pattern or an explicit shape; explicit values win."""

    preset: ChunkPreset | None = None
    time: int | None = Field(None, ge=1)
    y: int | None = Field(None, ge=1)
    x: int | None = Field(None, ge=1)


class OutputConfig(_Model):
    path: str = Field(description="Local folder or s3:// URL; relative paths are relative to the config.")
    zarr_format: ZarrFormat = 2
    compressor: CompressorName = "blosc-zstd"
    compression_level: int = Field(3, ge=0, le=22)
    storage_options: dict[str, Any] = Field(default_factory=dict)
    overwrite: bool = Field(True, description="Replace an existing local cube atomically.")


class CubeConfig(_Model):
    """A whole cube: sources harmonised onto one grid and time axis."""

    title: str = "DeepCube data cube"
    summary: str | None = None
    sources: list[SourceConfig] = Field(min_length=1)
    grid: GridConfig
    time: TimeConfig | None = Field(None, description="Required unless every source is static.")
    chunks: ChunkConfig | ChunkPreset = Field(
        ChunkConfig(preset="image"), description="A preset name, or a mapping (preset and/or time, y, x)."
    )
    output: OutputConfig
    workers: int | None = Field(None, ge=1, description="Threads for local runs (default: CPU count).")

    @field_validator("chunks", mode="after")
    @classmethod
    def _chunk_preset(cls, value: ChunkConfig | str) -> ChunkConfig:
        """`chunks: timeseries` is short for `chunks: {preset: timeseries}`."""
        return ChunkConfig(preset=value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check(self) -> CubeConfig:
        names = [v.output_name for s in self.sources for v in s.variables]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"variable {dupes[0]!r} is produced by more than one source")
        if self.time is None and any(not s.static for s in self.sources):
            raise ValueError("a `time` section is required when a source is not static")
        return self

    @property
    def variables(self) -> list[tuple[SourceConfig, VariableConfig]]:
        return [(s, v) for s in self.sources for v in s.variables]


def config_schema() -> dict[str, Any]:
    """JSON schema of the configuration (printed by `cube-engine schema`)."""
    return CubeConfig.model_json_schema()


def parse_config(data: Any, base_dir: Path | None = None) -> CubeConfig:
    """Validate a plain mapping; relative local paths are resolved against `base_dir`."""
    if not isinstance(data, dict):
        found = "nothing (the file is empty)" if data is None else f"a {type(data).__name__}"
        raise ConfigError(f"expected a mapping with sources, grid, time and output, found {found}")
    try:
        config = CubeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, CubeConfig, hints=HINTS)) from None
    if base_dir is not None:
        config = resolve_paths(config, base_dir)
    return config


def _resolve(path: str, base_dir: Path) -> str:
    if "://" in path or Path(path).is_absolute():
        return path
    return str((base_dir / path).resolve())


def resolve_paths(config: CubeConfig, base_dir: Path) -> CubeConfig:
    sources = [
        s.model_copy(update={"paths": [_resolve(p, base_dir) for p in s.paths]}) for s in config.sources
    ]
    output = config.output.model_copy(update={"path": _resolve(config.output.path, base_dir)})
    return config.model_copy(update={"sources": sources, "output": output})


def load_config(path: str | Path, output: str | None = None) -> CubeConfig:
    """Read, validate and normalise a YAML config; `output` overrides `output.path`."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a text file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(in_file(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", path)) from None
    if isinstance(data, dict) and output is not None:
        data = {**data, "output": {**(data.get("output") or {}), "path": output}}
    try:
        config = parse_config(data, base_dir=path.parent.resolve())
    except ConfigError as exc:
        raise ConfigError(in_file(str(exc), path)) from None
    if output is not None and "://" not in output:
        config = config.model_copy(
            update={"output": config.output.model_copy(update={"path": str(Path(output).resolve())})}
        )
    return config


def config_sha256(config: CubeConfig) -> str:
    """Provenance hash of the normalised config (stable key order, paths resolved)."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
