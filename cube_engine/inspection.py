"""`info` and `validate`: what a cube holds, and whether it follows the conventions.

`validate` returns one plain-language problem per line (empty list = valid), so the CLI can print
them and exit non-zero; it never stops at the first problem.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from pydantic import BaseModel

from .constants import CONVENTIONS, CRS_VAR, GEOGRAPHIC_DIMS, PROJECTED_DIMS, TIME_DIM
from .errors import GridError
from .grid import regular_step
from .storage import filesystem, is_remote


class VariableSummary(BaseModel):
    name: str
    dims: list[str]
    dtype: str
    chunks: list[int] | None
    units: str | None
    long_name: str | None


class CubeInfo(BaseModel):
    path: str
    dims: dict[str, int]
    variables: list[VariableSummary]
    time_coverage: tuple[str, str] | None
    bbox_degrees: tuple[float, float, float, float] | None
    crs: str | None
    zarr_format: int | None
    size_bytes: int | None
    title: str | None


def _store_size(path: str, storage_options: dict | None) -> int | None:
    try:
        fs = filesystem(path, storage_options)
        return int(fs.du(path if is_remote(path) else str(path)))
    except Exception:
        return None


def cube_info(ds: xr.Dataset, path: str, storage_options: dict | None = None) -> CubeInfo:
    variables = []
    for name, var in ds.data_vars.items():
        if name == CRS_VAR:
            continue
        chunks = var.encoding.get("chunks")
        variables.append(
            VariableSummary(
                name=str(name),
                dims=[str(d) for d in var.dims],
                dtype=str(var.dtype),
                chunks=list(chunks) if chunks else None,
                units=var.attrs.get("units"),
                long_name=var.attrs.get("long_name"),
            )
        )
    coverage = None
    if TIME_DIM in ds.coords and ds.sizes.get(TIME_DIM):
        t = ds[TIME_DIM].values
        coverage = (str(np.datetime_as_string(t[0], unit="s")), str(np.datetime_as_string(t[-1], unit="s")))
    keys = ("geospatial_lon_min", "geospatial_lat_min", "geospatial_lon_max", "geospatial_lat_max")
    bbox = tuple(float(ds.attrs[k]) for k in keys) if all(k in ds.attrs for k in keys) else None
    crs = None
    if CRS_VAR in ds.variables:
        from pyproj import CRS

        wkt = ds[CRS_VAR].attrs.get("crs_wkt")
        crs = CRS.from_wkt(wkt).to_string() if wkt else None
    zarr_format = None
    try:
        import zarr

        from .writer import zarr_store

        zarr_format = zarr.open_group(
            zarr_store(path, storage_options, read_only=True), mode="r"
        ).metadata.zarr_format
    except Exception:
        pass
    return CubeInfo(
        path=path,
        dims={str(k): int(v) for k, v in ds.sizes.items()},
        variables=variables,
        time_coverage=coverage,
        bbox_degrees=bbox,
        crs=crs,
        zarr_format=zarr_format,
        size_bytes=_store_size(path, storage_options),
        title=ds.attrs.get("title"),
    )


def _regular(values: np.ndarray) -> bool:
    """One pixel is regular here (validate reports cube conventions, not a resolution)."""
    if np.asarray(values).size < 2:
        return True
    try:
        regular_step(values, "axis")
    except GridError:
        return False
    return True


def validate_cube(ds: xr.Dataset, consolidated: bool = True) -> list[str]:
    """Problems with the cube's conventions, one line each."""
    problems: list[str] = []
    if not consolidated:
        problems.append("metadata: no consolidated metadata (.zmetadata)")
    if all(d in ds.dims for d in GEOGRAPHIC_DIMS):
        ydim, xdim = GEOGRAPHIC_DIMS
    elif all(d in ds.dims for d in PROJECTED_DIMS):
        ydim, xdim = PROJECTED_DIMS
    else:
        return [*problems, f"dims: expected (lat, lon) or (y, x), found {sorted(map(str, ds.dims))}"]
    for dim, ascending in ((xdim, True), (ydim, False)):
        values = ds[dim].values
        diffs = np.diff(values)
        if values.size > 1 and not ((diffs > 0).all() if ascending else (diffs < 0).all()):
            problems.append(
                f"{dim}: coordinates are not strictly {'ascending' if ascending else 'descending'}"
            )
        elif not _regular(values):
            problems.append(f"{dim}: coordinates are not a regular grid")
    if TIME_DIM in ds.dims:
        t = ds[TIME_DIM].values
        if not np.issubdtype(t.dtype, np.datetime64):
            problems.append("time: not decoded as datetime (missing CF units?)")
        elif t.size > 1 and not (np.diff(t) > np.timedelta64(0)).all():
            problems.append("time: not strictly ascending")
    for key in (
        "Conventions",
        "title",
        "geospatial_lat_min",
        "geospatial_lat_max",
        "geospatial_lon_min",
        "geospatial_lon_max",
        "history",
        "source",
        "date_created",
    ):
        if key not in ds.attrs:
            problems.append(f"attributes: missing global attribute {key!r}")
    if "Conventions" in ds.attrs and not str(ds.attrs["Conventions"]).startswith("CF-"):
        problems.append(f"attributes: Conventions is {ds.attrs['Conventions']!r}, expected {CONVENTIONS!r}")
    if TIME_DIM in ds.dims:
        for key in ("time_coverage_start", "time_coverage_end"):
            if key not in ds.attrs:
                problems.append(f"attributes: missing global attribute {key!r}")
        if ds.sizes[TIME_DIM] and "time_coverage_end" in ds.attrs:
            last = str(np.datetime_as_string(ds[TIME_DIM].values[-1], unit="s"))
            if not str(ds.attrs["time_coverage_end"]).startswith(last[:10]):
                problems.append(
                    f"attributes: time_coverage_end {ds.attrs['time_coverage_end']} != last time {last}"
                )
    if CRS_VAR not in ds.variables:
        problems.append("crs: missing scalar grid-mapping variable 'crs'")
    elif "crs_wkt" not in ds[CRS_VAR].attrs:
        problems.append("crs: variable has no 'crs_wkt' attribute")
    chunking: dict[str, set[int]] = {}
    for name, var in ds.data_vars.items():
        if name == CRS_VAR:
            continue
        if var.attrs.get("grid_mapping") != CRS_VAR:
            problems.append(f"{name}: attribute grid_mapping is not 'crs'")
        for key in ("units", "long_name"):
            if key not in var.attrs:
                problems.append(f"{name}: missing attribute {key!r}")
        if var.dtype != np.float32:
            problems.append(f"{name}: dtype {var.dtype}, expected float32")
        if tuple(var.dims[-2:]) != (ydim, xdim):
            problems.append(f"{name}: dims {var.dims} do not end with ({ydim}, {xdim})")
        chunks = var.encoding.get("chunks")
        if chunks:
            for dim, size in zip(var.dims, chunks, strict=False):
                chunking.setdefault(str(dim), set()).add(int(size))
    for dim, sizes in chunking.items():
        if len(sizes) > 1:
            problems.append(f"chunks: variables disagree on the chunk size along {dim} ({sorted(sizes)})")
    return problems


def open_for_inspection(path: str, storage_options: dict | None = None) -> tuple[xr.Dataset, bool]:
    """Open with consolidated metadata if present (and say whether it was), else without: the
    store is checked once, so a dead endpoint fails at its one reachability check instead of Zarr
    retrying every metadata key before the error is shown (`access.open_cube_saying_how`)."""
    from .access import open_cube_saying_how

    return open_cube_saying_how(path, storage_options)
