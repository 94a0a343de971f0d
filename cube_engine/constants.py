"""Names shared by config, planner and kernels: one place for every literal the user can type."""

from __future__ import annotations

from typing import Literal

ResamplingMethod = Literal["auto", "nearest", "bilinear", "block_mean", "mode"]
"""`auto` picks block_mean when the source is finer, bilinear when coarser, nearest when equal.
block_mean / mode are exact on the target's own CRS; when reprojecting they use aligned k x k source
blocks (see `cube_engine.plan`), an approximation of the target pixel's footprint."""

Aggregation = Literal["mean", "max", "min", "sum", "last"]
"""How several observations falling into one output period are combined (NaN-aware)."""

ChunkPreset = Literal["image", "timeseries"]
SourceFormat = Literal["auto", "netcdf", "geotiff", "zarr"]
ZarrFormat = Literal[2, 3]
CompressorName = Literal["blosc-zstd", "blosc-lz4", "zstd", "zlib", "none"]

GEOGRAPHIC_DIMS = ("lat", "lon")
PROJECTED_DIMS = ("y", "x")
TIME_DIM = "time"
CRS_VAR = "crs"
CONVENTIONS = "CF-1.10, ACDD-1.3"
TIME_UNITS = "seconds since 1970-01-01T00:00:00"

# The image preset favours whole-map reads, the timeseries preset long pixel histories.
CHUNK_PRESETS: dict[str, dict[str, int]] = {
    "image": {"time": 1, "y": 512, "x": 512},
    "timeseries": {"time": 256, "y": 64, "x": 64},
}
