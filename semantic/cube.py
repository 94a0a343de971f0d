"""Opening a Zarr cube (local folder or s3://) and checking it follows the cube conventions.

Only metadata is read here, plus float static layers (2-D, small next to the observations), which are
checked for whole numbers to pick their column type; observation values are read later, block by
block, by the loader. A `CubeSelection` is everything the loader and the registry need to know: which
variables, which time steps, which window of the grid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyproj import CRS

from semantic.dtypes import ColumnType, column_type, integral_type, is_supported
from semantic.errors import CubeError, MissingVariableError, SelectionError
from semantic.grid import Grid, cube_grid, window_for_bbox

if TYPE_CHECKING:  # xarray is imported when a cube is opened: `semantic query` never needs it
    import xarray as xr

GEOGRAPHIC_DIMS = ("lat", "lon")
PROJECTED_DIMS = ("y", "x")
CUBE_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# key and derived columns of the cells/observations tables and their R2RML views
RESERVED_COLUMNS = ("cell_id", "time", "t_key", "row", "col", "geom", "wkt")
STATIC_BAND_ROWS = 1024  # rows of a static layer read at once when checking it for whole numbers


@dataclass(frozen=True)
class Variable:
    """A data variable; `column` is its SQL column name.

    A (time, y, x) variable is a column of the observations table (always `real`); a static (y, x)
    variable is a column of the cells table with the type of its own dtype (`sql_type`), because a
    static layer belongs to the cell, not to any one time step.
    """

    name: str
    column: str
    units: str
    long_name: str
    static: bool = False
    sql_type: str = "real"


@dataclass
class CubeSelection:
    """An opened cube plus the part of it to load."""

    uri: str
    dataset: xr.Dataset
    grid: Grid
    variables: list[Variable]
    time_index: np.ndarray  # integer positions along `time`
    times: np.ndarray  # datetime64[us] of those positions
    window: tuple[int, int, int, int]  # row0, row1, col0, col1 (half-open)
    title: str = ""
    static: list[Variable] = field(default_factory=list)  # (y, x) layers loaded as cell columns
    skipped_static: list[str] = field(default_factory=list)  # (y, x) layers of a type SQL cannot hold
    storage_options: dict[str, Any] | None = None  # the cube's S3 options (None: the AWS_* environment)

    def read(self, name: str, *region: slice) -> np.ndarray:
        """The values of variable `name` in `region` (positional slices): see `read_window`."""
        return read_window(self.dataset, name, region, self.uri, self.storage_options)

    @property
    def n_cells(self) -> int:
        r0, r1, c0, c1 = self.window
        return (r1 - r0) * (c1 - c0)

    @property
    def n_observations(self) -> int:
        return self.n_cells * len(self.times)

    def time_chunk(self) -> int:
        """Time steps per block: the cube's own chunking, so each Zarr chunk is read once."""
        return _chunk(self.dataset, self.variables[0].name, 0, default=8)

    def row_chunk(self) -> int:
        return _chunk(self.dataset, self.variables[0].name, 1, default=256)


def _chunk(ds: xr.Dataset, name: str, axis: int, default: int) -> int:
    chunks = ds[name].encoding.get("chunks") or ds[name].encoding.get("preferred_chunks")
    if isinstance(chunks, dict):
        chunks = tuple(chunks.values())
    if chunks and len(chunks) > axis:
        return max(1, int(chunks[axis]))
    return default


def default_cube_id(uri: str) -> str:
    """`s3://bucket/my-cube.zarr` -> `my_cube`: a valid SQL-safe id from the cube's name."""
    stem = Path(uri.rstrip("/")).name
    stem = re.sub(r"\.zarr$", "", stem, flags=re.IGNORECASE)
    cube_id = re.sub(r"[^a-z0-9_]+", "_", stem.lower()).strip("_")
    if not cube_id or not cube_id[0].isalpha():
        cube_id = f"cube_{cube_id}"
    return cube_id[:40]


def check_cube_id(cube_id: str) -> str:
    if not CUBE_ID_PATTERN.match(cube_id):
        raise SelectionError(
            f"invalid cube id {cube_id!r}: expected lowercase letters, digits and '_', starting with a "
            "letter, at most 40 characters"
        )
    return cube_id


def column_name(variable: str) -> str:
    """SQL column for a variable: lowercase identifier, never clashing with our key columns."""
    name = re.sub(r"[^a-z0-9_]+", "_", variable.lower()).strip("_") or "var"
    if name[0].isdigit() or name in RESERVED_COLUMNS:
        name = f"v_{name}"
    return name[:60]


def open_cube(uri: str, storage_options: dict[str, Any] | None = None) -> xr.Dataset:
    """Open lazily (no dask: the loader reads windows itself) through the engine's access layer
    (`cube_engine.access`), so a load sees what every reader sees: S3 storage options applied, a
    killed writer's journal recovered first, and a cube a live writer is changing refused."""
    from cube_engine.access import open_cube as open_published
    from cube_engine.errors import CubeEngineError

    try:
        return open_published(uri, storage_options, chunks=None, consolidated=None, decode_timedelta=False)
    except CubeEngineError as exc:
        raise CubeError(str(exc)) from None


def read_window(
    ds: xr.Dataset,
    name: str,
    region: tuple[slice, ...],
    uri: str,
    storage_options: dict[str, Any] | None = None,
) -> np.ndarray:
    """The values of variable `name` in `region` (positional slices, one per dimension).

    A damaged chunk (bytes its codec cannot decode) is one CubeError naming the variable and the
    chunk the way `cube-engine validate --deep` names it: the engine's chunk check decodes the
    chunks of `region` one by one and reports the first that fails. A failure the check cannot
    pin on a chunk (or cannot run for) keeps its own traceback: that is no damaged chunk.
    """
    try:
        return np.asarray(ds[name].variable[region].values)
    except Exception:
        from cube_engine.chunkcheck import first_damaged

        problem = first_damaged(uri, name, storage_options, within=region)
        if problem is None:
            raise
        raise CubeError(
            f"cannot read cube {uri}: {problem}; `cube-engine validate --deep` lists every damaged chunk"
        ) from None


def cube_crs(ds: xr.Dataset, y_dim: str) -> CRS:
    """The CRS from the `crs` grid-mapping variable; lat/lon cubes without one are EPSG:4326."""
    if "crs" in ds.variables:
        attrs = ds["crs"].attrs
        for key in ("crs_wkt", "spatial_ref"):
            if attrs.get(key):
                return CRS.from_wkt(attrs[key])
        try:
            return CRS.from_cf(attrs)
        except Exception as exc:
            raise CubeError(f"variable 'crs' has no usable CF grid-mapping attributes: {exc}") from exc
    if y_dim == "lat":
        return CRS.from_epsg(4326)
    raise CubeError("projected cube has no 'crs' variable: expected CF grid-mapping attrs with crs_wkt")


def parse_time_range(text: str | None) -> tuple[np.datetime64, np.datetime64] | None:
    """`START/END` (ISO dates or date-times, inclusive; either side may be empty)."""
    if not text:
        return None
    if "/" not in text:
        raise SelectionError(f"invalid --time {text!r}: expected START/END, e.g. 2020-01-01/2020-01-31")
    start_s, end_s = text.split("/", 1)
    try:
        start = pd.Timestamp(start_s) if start_s else pd.Timestamp.min
        end = pd.Timestamp(end_s) if end_s else pd.Timestamp.max
    except ValueError as exc:
        raise SelectionError(f"invalid --time {text!r}: {exc}") from exc
    if len(end_s) == 10:  # a date: the whole day is included
        end = end + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    if end < start:
        raise SelectionError(f"invalid --time {text!r}: END is before START")
    return np.datetime64(start.to_datetime64(), "us"), np.datetime64(end.to_datetime64(), "us")


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """`WEST,SOUTH,EAST,NORTH` in degrees (EPSG:4326)."""
    if not text:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise SelectionError(f"invalid --bbox {text!r}: expected WEST,SOUTH,EAST,NORTH numbers") from exc
    if len(values) != 4 or values[0] >= values[2] or values[1] >= values[3]:
        raise SelectionError(
            f"invalid --bbox {text!r}: expected WEST,SOUTH,EAST,NORTH with WEST<EAST, SOUTH<NORTH"
        )
    return values  # type: ignore[return-value]


def select(
    uri: str,
    *,
    variables: list[str] | None = None,
    time: str | None = None,
    bbox: str | None = None,
    storage_options: dict[str, Any] | None = None,
) -> CubeSelection:
    """Open the cube, validate it and resolve the user's selection; raises one-line `SemanticError`s."""
    ds = open_cube(uri, storage_options)
    if "time" not in ds.dims:
        raise CubeError(f"{uri}: no 'time' dimension (found dims {sorted(ds.dims)})")
    if all(d in ds.dims for d in GEOGRAPHIC_DIMS):
        y_dim, x_dim = GEOGRAPHIC_DIMS
    elif all(d in ds.dims for d in PROJECTED_DIMS):
        y_dim, x_dim = PROJECTED_DIMS
    else:
        raise CubeError(f"{uri}: expected dims (time, lat, lon) or (time, y, x), found {sorted(ds.dims)}")
    crs = cube_crs(ds, y_dim)
    grid = cube_grid(ds[x_dim].values, ds[y_dim].values, crs, x_dim, y_dim)

    cube_vars = [n for n, v in ds.data_vars.items() if v.dims == ("time", y_dim, x_dim)]
    static_vars = [n for n, v in ds.data_vars.items() if v.dims == (y_dim, x_dim)]
    if variables:
        missing = [v for v in variables if v not in cube_vars and v not in static_vars]
        if missing:
            also = f"; static ({y_dim}, {x_dim}) variables are {', '.join(static_vars)}" * bool(static_vars)
            raise MissingVariableError(
                f"variable {', '.join(map(repr, missing))} not in cube {uri}: "
                f"available (time, {y_dim}, {x_dim}) variables are {', '.join(cube_vars) or 'none'}{also}"
            )
        wanted = list(dict.fromkeys(variables))
        chosen = [v for v in wanted if v in cube_vars]
        chosen_static = [v for v in wanted if v in static_vars]
        if not chosen:
            raise MissingVariableError(
                f"--variables names only static ({y_dim}, {x_dim}) variables of {uri}: name at least one "
                f"(time, {y_dim}, {x_dim}) variable too, from {', '.join(cube_vars) or 'none'}"
            )
    else:
        chosen, chosen_static = cube_vars, [v for v in static_vars if is_supported(ds[v].dtype)]
    skipped = [] if variables else [v for v in static_vars if v not in chosen_static]
    if not chosen:
        raise MissingVariableError(f"cube {uri} has no (time, {y_dim}, {x_dim}) data variables")
    columns = [column_name(v) for v in chosen + chosen_static]
    if len(set(columns)) != len(columns):
        raise CubeError(f"variables {chosen + chosen_static} map to clashing SQL column names {columns}")
    selected = [_variable(ds, v, c) for v, c in zip(chosen, columns[: len(chosen)], strict=True)]

    times = ds["time"].values
    if not np.issubdtype(times.dtype, np.datetime64):
        raise CubeError(f"{uri}: 'time' is not a datetime coordinate (dtype {times.dtype})")
    times = times.astype("datetime64[us]")
    if times.size > 1 and not np.all(np.diff(times) > np.timedelta64(0, "us")):
        raise CubeError(f"{uri}: 'time' must be strictly ascending")
    index = np.arange(times.size)
    time_range = parse_time_range(time)
    if time_range is not None:
        keep = (times >= time_range[0]) & (times <= time_range[1])
        index = index[keep]
        if index.size == 0:
            raise SelectionError(f"--time {time} selects no time step of {uri} ({times[0]} .. {times[-1]})")

    window = (0, grid.height, 0, grid.width)
    box = parse_bbox(bbox)
    if box is not None:
        window = window_for_bbox(grid, box)
        if window[1] <= window[0] or window[3] <= window[2]:
            raise SelectionError(f"--bbox {bbox} does not intersect the grid of {uri}")
    static = [
        _variable(ds, v, c, static_type=_static_type(ds, v, window, uri, storage_options))
        for v, c in zip(chosen_static, columns[len(chosen) :], strict=True)
    ]

    return CubeSelection(
        uri=uri,
        dataset=ds,
        grid=grid,
        variables=selected,
        time_index=index,
        times=times[index],
        window=window,
        title=str(ds.attrs.get("title", "")),
        static=static,
        skipped_static=skipped,
        storage_options=storage_options,
    )


def _variable(
    ds: xr.Dataset,
    name: str,
    column: str,
    *,
    static_type: ColumnType | None = None,
) -> Variable:
    """A (time, y, x) variable, or with `static_type` a static layer of that column type."""
    attrs = ds[name].attrs
    return Variable(
        name=name,
        column=column,
        units=str(attrs.get("units", "")),
        long_name=str(attrs.get("long_name", name)),
        static=static_type is not None,
        sql_type=static_type.sql if static_type is not None else "real",
    )


def _static_type(
    ds: xr.Dataset,
    name: str,
    window: tuple[int, int, int, int],
    uri: str,
    storage_options: dict[str, Any] | None,
) -> ColumnType:
    """The column type of a static layer: its dtype's, or an integer type when a float layer holds
    only whole numbers in the loaded window (see `dtypes.integral_type`), read band by band."""
    declared = column_type(name, ds[name].dtype)
    if ds[name].dtype.kind != "f":
        return declared
    row0, row1, col0, col1 = window
    bands = (
        read_window(
            ds, name, (slice(r0, min(r0 + STATIC_BAND_ROWS, row1)), slice(col0, col1)), uri, storage_options
        )
        for r0 in range(row0, row1, STATIC_BAND_ROWS)
    )
    return integral_type(bands) or declared
