"""The output cube's layout: template (coordinates, `crs`, attributes, empty arrays) and chunk writes.

The template is written once by xarray (metadata and coordinates only); the data chunks are then
written directly by zarr, one output chunk per task, so no two tasks ever touch the same object.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import zarr

from . import __version__
from .constants import CONVENTIONS, CRS_VAR, TIME_DIM, TIME_UNITS
from .errors import StoreError
from .grid import Grid, crs_cf_attrs
from .storage import is_remote, normalise_options

_ARRAYS: dict[tuple, zarr.Array] = {}
_ARRAYS_LOCK = threading.Lock()


@dataclass(frozen=True)
class OutputVariable:
    name: str
    static: bool
    attrs: dict[str, Any]


@dataclass(frozen=True)
class ChunkShape:
    time: int
    y: int
    x: int


def compressor_for(name: str, level: int, zarr_format: int):
    if name == "none":
        return None
    if zarr_format == 2:
        import numcodecs

        if name.startswith("blosc-"):
            return numcodecs.Blosc(cname=name.split("-", 1)[1], clevel=level, shuffle=numcodecs.Blosc.SHUFFLE)
        return numcodecs.Zstd(level=level) if name == "zstd" else numcodecs.Zlib(level=min(level, 9))
    from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec

    if name.startswith("blosc-"):
        return BloscCodec(cname=name.split("-", 1)[1], clevel=level, shuffle="shuffle")
    return ZstdCodec(level=level) if name == "zstd" else GzipCodec(level=min(level, 9))


def zarr_store(path: str, storage_options: dict[str, Any] | None = None, read_only: bool = False):
    if is_remote(path):
        from zarr.storage import FsspecStore

        return FsspecStore.from_url(
            path, storage_options=normalise_options(path, storage_options), read_only=read_only
        )
    return path


def cube_attrs(
    *,
    title: str,
    summary: str | None,
    grid: Grid,
    times: pd.DatetimeIndex | None,
    sources: list[str],
    config_sha: str,
    history: str,
) -> dict[str, Any]:
    lon_min, lat_min, lon_max, lat_max = grid.geographic_bounds()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    attrs: dict[str, Any] = {
        "Conventions": CONVENTIONS,
        "title": title,
        "summary": summary or title,
        "source": "; ".join(sources),
        "history": f"{now} {history}",
        "date_created": now,
        "geospatial_lat_min": float(lat_min),
        "geospatial_lat_max": float(lat_max),
        "geospatial_lon_min": float(lon_min),
        "geospatial_lon_max": float(lon_max),
        "geospatial_lat_units": "degrees_north",
        "geospatial_lon_units": "degrees_east",
        "deepcube_config_sha256": config_sha,
        "deepcube_engine_version": __version__,
        "deepcube_sources": list(sources),
    }
    if times is not None and len(times):
        attrs["time_coverage_start"] = times[0].isoformat()
        attrs["time_coverage_end"] = times[-1].isoformat()
    return attrs


def coords_for(grid: Grid, times: pd.DatetimeIndex | None) -> dict[str, Any]:
    import xarray as xr

    ydim, xdim = grid.dims
    if grid.is_geographic:
        xattrs = {
            "standard_name": "longitude",
            "long_name": "longitude",
            "units": "degrees_east",
            "axis": "X",
        }
        yattrs = {"standard_name": "latitude", "long_name": "latitude", "units": "degrees_north", "axis": "Y"}
    else:
        unit = grid.crs.axis_info[0].unit_name if grid.crs.axis_info else "m"
        units = "m" if unit in ("metre", "meter") else unit
        xattrs = {
            "standard_name": "projection_x_coordinate",
            "long_name": "x coordinate",
            "units": units,
            "axis": "X",
        }
        yattrs = {
            "standard_name": "projection_y_coordinate",
            "long_name": "y coordinate",
            "units": units,
            "axis": "Y",
        }
    coords = {xdim: xr.Variable(xdim, grid.x, xattrs), ydim: xr.Variable(ydim, grid.y, yattrs)}
    if times is not None:
        coords[TIME_DIM] = xr.Variable(
            TIME_DIM,
            times.values.astype("datetime64[ns]"),
            {"standard_name": "time", "long_name": "time", "axis": "T"},
        )
    return coords


def write_template(
    path: str,
    storage_options: dict[str, Any] | None,
    *,
    grid: Grid,
    times: pd.DatetimeIndex | None,
    variables: list[OutputVariable],
    chunks: ChunkShape,
    attrs: dict[str, Any],
    zarr_format: int,
    compressor,
) -> None:
    """Write coordinates, `crs`, attributes and empty data arrays (no data chunks)."""
    import dask.array as da
    import xarray as xr

    ydim, xdim = grid.dims
    data_vars = {}
    encoding: dict[str, dict[str, Any]] = {}
    comp = {"compressors": (compressor,) if compressor is not None else None}
    for var in variables:
        if var.static or times is None:
            dims, shape, chunk = (ydim, xdim), grid.shape, (chunks.y, chunks.x)
        else:
            dims, shape = (TIME_DIM, ydim, xdim), (len(times), *grid.shape)
            chunk = (chunks.time, chunks.y, chunks.x)
        data_vars[var.name] = xr.Variable(
            dims, da.empty(shape, chunks=chunk, dtype="float32"), {**var.attrs, "grid_mapping": CRS_VAR}
        )
        encoding[var.name] = {"chunks": chunk, "_FillValue": np.float32(np.nan), "dtype": "float32", **comp}
    data_vars[CRS_VAR] = xr.Variable((), np.int32(0), crs_cf_attrs(grid.crs))
    ds = xr.Dataset(data_vars, coords=coords_for(grid, times), attrs=attrs)
    if times is not None:
        encoding[TIME_DIM] = {
            "units": TIME_UNITS,
            "calendar": "proleptic_gregorian",
            "dtype": "int64",
            "chunks": (max(1024, chunks.time),),
        }
    encoding[xdim] = {"chunks": (grid.width,)}
    encoding[ydim] = {"chunks": (grid.height,)}
    kwargs = {"storage_options": normalise_options(path, storage_options)} if is_remote(path) else {}
    ds.to_zarr(
        path,
        mode="w",
        compute=False,
        consolidated=False,
        zarr_format=zarr_format,
        encoding=encoding,
        write_empty_chunks=False,
        **kwargs,
    )


def output_array(
    path: str, storage_options: dict[str, Any] | None, name: str, shape: tuple[int, ...] | None = None
) -> zarr.Array:
    """The zarr array `name` of the cube at `path`; with `shape`, a view whose metadata has that shape
    without writing it (append writes chunks beyond the published shape before committing)."""
    key = (path, name, shape)
    with _ARRAYS_LOCK:
        array = _ARRAYS.get(key)
        if array is None:
            store = zarr_store(path, storage_options)
            array = zarr.open_array(store, path=name, mode="r+")
            if shape is not None and tuple(array.shape) != tuple(shape):
                array = reshaped_view(array, tuple(shape))
            _ARRAYS[key] = array
            if len(_ARRAYS) > 256:
                _ARRAYS.clear()
                _ARRAYS[key] = array
        return array


def reshaped_view(array: zarr.Array, shape: tuple[int, ...]) -> zarr.Array:
    """`array` as if its metadata said `shape`, without writing that metadata.

    An append writes the chunks of its new steps into a staging area before the commit point, and
    the arrays' stored shape must stay the published one until then; zarr has no call for a view
    of another shape, so this builds one from zarr's public pieces (`Array.async_array`, the
    `AsyncArray` constructor, the metadata dataclass). `tests/cube_engine/test_writer.py` fails
    loudly if a zarr upgrade removes any of them."""
    import dataclasses

    current = array.async_array
    metadata = dataclasses.replace(current.metadata, shape=shape)
    return zarr.Array(
        zarr.AsyncArray(metadata=metadata, store_path=current.store_path, config=current.config)
    )


class ChunkWriter:
    """Writes whole chunks of a Zarr format 2 array straight to the store: one encode + one put.

    Format 2 chunks are just the compressed C-order bytes of the full chunk shape, so this skips
    zarr-python's async machinery (which costs more than the compression itself here). Local files
    are written to a temporary name and renamed; all-NaN chunks are not stored (the fill value)."""

    def __init__(self, path: str, storage_options: dict[str, Any] | None, name: str):
        import json

        from .storage import filesystem

        self.path, self.name = path.rstrip("/"), name
        self.remote = is_remote(path)
        self.fs = filesystem(path, storage_options) if self.remote else None
        meta_path = f"{self.path}/{name}/.zarray"
        if self.remote:
            meta = json.loads(self.fs.cat_file(meta_path))
        else:
            with open(meta_path) as handle:
                meta = json.load(handle)
        import numcodecs

        self.chunks = tuple(meta["chunks"])
        self.separator = meta.get("dimension_separator") or "."
        self.codec = numcodecs.get_codec(meta["compressor"]) if meta.get("compressor") else None
        self.dtype = np.dtype(meta["dtype"])
        if meta.get("filters"):
            raise ValueError("filters are not supported by the direct chunk writer")

    def write(self, offset: tuple[int, ...], data: np.ndarray) -> None:
        """Write the chunk starting at `offset` (data may be smaller at the array's edges)."""
        index = tuple(o // c for o, c in zip(offset, self.chunks, strict=True))
        key = f"{self.path}/{self.name}/{self.separator.join(map(str, index))}"
        if (data.size == 0 or np.isnan(data.flat[0])) and np.isnan(data).all():  # 1st value settles most
            if self.remote:
                if self.fs.exists(key):
                    self.fs.rm_file(key)
            elif os.path.exists(key):
                os.remove(key)
            return
        if data.shape != self.chunks:
            full = np.full(self.chunks, np.nan, dtype=self.dtype)
            full[tuple(slice(0, n) for n in data.shape)] = data
            data = full
        raw = np.ascontiguousarray(data, dtype=self.dtype)
        payload = self.codec.encode(raw) if self.codec is not None else raw.tobytes()
        try:
            if self.remote:
                self.fs.pipe_file(key, bytes(payload))
                return
            tmp = f"{key}.{os.getpid()}.{threading.get_ident()}.partial"
            with open(tmp, "wb") as handle:
                handle.write(payload)
            os.replace(tmp, key)
        except OSError as exc:  # disk full, permissions; object-store errors surface as OSError too
            raise StoreError(f"cannot write chunk {key}: {exc.strerror or exc}") from None


_WRITERS: dict[tuple, ChunkWriter] = {}


def chunk_writer(path: str, storage_options: dict[str, Any] | None, name: str) -> ChunkWriter | None:
    """A direct writer for format 2 arrays (None for format 3: use zarr)."""
    key = (path, name)
    with _ARRAYS_LOCK:
        if key not in _WRITERS:
            fmt_file = f"{path.rstrip('/')}/{name}/.zarray"
            exists = filesystem_exists(fmt_file, storage_options)
            _WRITERS[key] = ChunkWriter(path, storage_options, name) if exists else None
        return _WRITERS[key]


def filesystem_exists(path: str, storage_options: dict[str, Any] | None) -> bool:
    if not is_remote(path):
        return os.path.exists(path)
    from .storage import filesystem

    return filesystem(path, storage_options).exists(path)


def forget_arrays() -> None:
    with _ARRAYS_LOCK:
        _ARRAYS.clear()
        _WRITERS.clear()


def consolidate(path: str, storage_options: dict[str, Any] | None) -> None:
    zarr.consolidate_metadata(zarr_store(path, storage_options))
    forget_arrays()
