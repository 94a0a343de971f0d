"""Benchmark: the semantic loader against pandas to_sql and psql \\copy, in one run, on one machine.

Workload: 500 x 500 cells x 30 daily steps x 3 float32 variables = 7.5M observation rows.
Prints side by side:
- the loader end to end (open Zarr -> committed table with keys and indexes), rows/s and peak RSS,
  run in a fresh subprocess so its RSS is its own: a first load, then a replace of the same cube
  (a reload: the unchanged cells table is kept, the observations are rebuilt), and a 60-step cube
  to show memory is flat;
- the same work done by hand on a window of the cube (about `--subset` observation rows): xarray,
  geopandas `to_postgis` for the cells, pandas `to_sql` for the observations, the same keys: what the
  loader replaces, and the baseline of the 25x target (tables, keys and rows as the loader's);
- pandas `to_sql` (SQLAlchemy + psycopg 3) alone, of the first `--subset` observation rows, with no
  cells and no key: the bare insert path, for reference;
- `psql \\copy` of the same 7.5M rows from a ready CSV (exported beforehand, not timed) into a fresh
  unindexed table: the fastest path stock tools offer.

All of them write into the same embedded PostGIS (semantic.local_postgis: a throwaway cluster with the
platform's bulk-load settings, semantic.server_settings).

Each method runs `--repeat` times (default 3) and its median run counts: the host is shared and
noisy, and a single run can be 30% off. Every run's time is printed.

The query section (bench/semantic_queries.py), in the same run and the same PostGIS: `semantic query`
answering a bbox + time + threshold question over the demo cube and a 4x larger one, every example
query of `semantic mapping`, and the old whole-mapping materialisation, each against the same answer
in SQL (the floor).

Run: .venv/bin/python bench/bench_semantic.py [--section all|load|query] [--times 30] [--subset 200000]
     [--repeat 3] [--breakdown]
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
import xarray as xr
from pyproj import CRS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import semantic_queries  # noqa: E402
from repeats import listed, median_run  # noqa: E402

from semantic.database import create_engine  # noqa: E402
from semantic.local_postgis import LocalPostgis, temporary_root  # noqa: E402

VARIABLES = ("t2m", "precip", "ndvi")


def write_cube(path: Path, times: int, size: int = 500) -> Path:
    """A cube following the conventions, written time block by time block (bounded memory)."""
    rng = np.random.default_rng(42)
    res = 0.01
    lon = 5.0 + (np.arange(size) + 0.5) * res
    lat = 55.0 - (np.arange(size) + 0.5) * res
    time_axis = pd.date_range("2020-01-01", periods=times, freq="D")
    cf = CRS.from_epsg(4326).to_cf()
    cf["spatial_ref"] = cf["crs_wkt"]
    block = 10
    for t0 in range(0, times, block):
        t1 = min(t0 + block, times)
        data = {}
        for k, name in enumerate(VARIABLES):
            values = rng.normal(280 + k, 5, size=(t1 - t0, size, size)).astype(np.float32)
            values[rng.random(values.shape) < 0.01] = np.nan
            data[name] = (
                ("time", "lat", "lon"),
                values,
                {"units": "K", "long_name": name, "grid_mapping": "crs"},
            )
        ds = xr.Dataset(data, coords={"time": time_axis[t0:t1], "lat": lat, "lon": lon})
        if t0 == 0:
            ds["crs"] = xr.Variable((), np.int32(0), attrs=cf)
            # static layers as in the cube engine's demo cube: they ride in the cells' COPY
            dem = rng.normal(300, 50, (size, size)).astype(np.float32)
            ds["elevation"] = (("lat", "lon"), dem, {"units": "m"})
            classes = rng.integers(1, 10, (size, size)).astype(np.uint8)
            ds["land_cover"] = (("lat", "lon"), classes, {"units": "1"})
            ds.attrs["title"] = f"bench cube {times} steps"
            enc = {n: {"chunks": (8, 256, 256)} for n in VARIABLES}
            ds.to_zarr(path, mode="w", consolidated=True, zarr_format=2, encoding=enc)
        else:
            ds.to_zarr(path, append_dim="time", consolidated=True)
    return path


LOADER = """
import json, resource, sys, time
from semantic import api
started = time.perf_counter()
report = api.load(sys.argv[1], sys.argv[2], cube_id=sys.argv[3])
seconds = time.perf_counter() - started
print(json.dumps({"rows": report.n_observations, "seconds": seconds, "phases": report.phases,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_loader(cube: Path, dsn: str, cube_id: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", LOADER, str(cube), dsn, cube_id],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"loader failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def settle(engine: sa.Engine) -> None:
    """Flush the previous run's dirty pages first, so no timed run pays for the one before it."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("CHECKPOINT"))


def observation_frame(engine: sa.Engine, cube_id: str, rows: int) -> pd.DataFrame:
    """The first `rows` observation rows as pandas reads them back (the input of the to_sql run)."""
    with engine.connect() as conn:
        return pd.read_sql(sa.text(f'SELECT * FROM deepcube."obs_{cube_id}" LIMIT {rows}'), conn)


def bench_to_sql(engine: sa.Engine, frame: pd.DataFrame) -> dict:
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS public.bench_to_sql"))
    settle(engine)
    started = time.perf_counter()
    frame.to_sql("bench_to_sql", engine, schema="public", index=False, chunksize=10_000)
    seconds = time.perf_counter() - started
    return {"rows": len(frame), "seconds": seconds}


def bench_by_hand(engine: sa.Engine, cube: Path, subset: int) -> dict:
    """The loader's work done by hand for a window of the cube, the way the tutorials show it.

    The first `subset // (times x width)` rows of cells, every time step, timed from opening the
    Zarr: cell polygons in a GeoDataFrame written with geopandas `to_postgis` (GeoAlchemy2 adds its
    GiST index), observations from `to_dataframe` written with pandas `to_sql`, then the same keys
    and statistics the loader gives. Rows/s counts observations, as for the loader.
    """
    with engine.begin() as conn:
        for table in ("bench_hand_obs", "bench_hand_cells"):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS public.{table}"))
    settle(engine)
    started = time.perf_counter()
    ds = xr.open_zarr(cube)
    times, width = ds.sizes["time"], ds.sizes["lon"]
    window = ds.isel(lat=slice(0, max(1, subset // (times * width))))
    lon, lat = window["lon"].values, window["lat"].values
    half = abs(float(lon[1] - lon[0])) / 2
    cell_id = np.arange(lat.size * width)
    row, col = np.divmod(cell_id, width)
    cells = gpd.GeoDataFrame(
        {
            "cell_id": cell_id,
            "row": row,
            "col": col,
            "elevation": window["elevation"].values.ravel(),
            "land_cover": window["land_cover"].values.ravel(),
        },
        geometry=shapely.box(lon[col] - half, lat[row] - half, lon[col] + half, lat[row] + half),
        crs="EPSG:4326",
    )
    values = window[list(VARIABLES)].to_dataframe(dim_order=["time", "lat", "lon"])
    observations = pd.DataFrame(
        {
            "cell_id": np.tile(cell_id, times),
            "time": values.index.get_level_values("time"),
            **{name: values[name].to_numpy() for name in VARIABLES},
        }
    )
    cells.to_postgis("bench_hand_cells", engine, schema="public", index=False)
    observations.to_sql("bench_hand_obs", engine, schema="public", index=False, chunksize=10_000)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE public.bench_hand_cells ADD PRIMARY KEY (cell_id)"))
        conn.execute(sa.text("ALTER TABLE public.bench_hand_obs ADD PRIMARY KEY (time, cell_id)"))
        conn.execute(sa.text("ANALYZE public.bench_hand_cells"))
        conn.execute(sa.text("ANALYZE public.bench_hand_obs"))
    seconds = time.perf_counter() - started
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*) FROM public.bench_hand_obs")).scalar_one()
        gist = "SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'bench_hand_%' AND indexdef ~ 'gist'"
        indexes = conn.execute(sa.text(gist)).scalar_one()
    if rows != len(observations) or indexes != 1:
        raise SystemExit(f"by-hand baseline wrote {rows} rows and {indexes} GiST indexes")
    return {"rows": rows, "seconds": seconds, "cells": len(cells)}


class PsqlCopy:
    """`psql \\copy` of the observations from a CSV exported once (not timed) into a fresh table."""

    def __init__(self, pg: LocalPostgis, engine: sa.Engine, cube_id: str, workdir: Path) -> None:
        self.pg, self.engine = pg, engine
        self.csv_path = workdir / "obs.csv"
        self.columns = "cell_id, time, " + ", ".join(VARIABLES)
        self.psql(f"\\copy (SELECT {self.columns} FROM deepcube.obs_{cube_id}) TO '{self.csv_path}' CSV")

    def psql(self, command: str) -> None:
        subprocess.run(
            [str(self.pg._bin / "psql"), self.pg.dsn, "-v", "ON_ERROR_STOP=1", "-c", command],
            check=True,
            capture_output=True,
        )

    def run(self) -> dict:
        with self.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS public.bench_copy"))
            conn.execute(
                sa.text(
                    "CREATE TABLE public.bench_copy (cell_id bigint, time timestamp, "
                    + ", ".join(f"{v} real" for v in VARIABLES)
                    + ")"
                )
            )
        settle(self.engine)
        started = time.perf_counter()
        self.psql(f"\\copy public.bench_copy ({self.columns}) FROM '{self.csv_path}' CSV")
        seconds = time.perf_counter() - started
        with self.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT count(*) FROM public.bench_copy")).scalar_one()
        return {"rows": rows, "seconds": seconds}


def forget_cube(engine: sa.Engine, cube_id: str) -> None:
    """Remove a loaded cube, so that the next load of it is a first load again."""
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP TABLE IF EXISTS deepcube."obs_{cube_id}", deepcube."cells_{cube_id}"'))
        conn.execute(sa.text("DELETE FROM deepcube.cube WHERE id = :id"), {"id": cube_id})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=("all", "load", "query"), default="all")
    parser.add_argument("--times", type=int, default=30)
    parser.add_argument("--subset", type=int, default=200_000, help="rows for to_sql")
    parser.add_argument("--no-rss-60", action="store_true", help="skip the 2x-time-steps memory run")
    parser.add_argument("--breakdown", action="store_true", help="print the loader's phase timings")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per method (the median counts)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-semantic-"))
    pg_root = temporary_root("bench-pg-")
    try:
        with LocalPostgis(root=pg_root) as pg:
            engine = create_engine(pg.dsn)
            if args.section in ("all", "load"):
                bench_load(args, pg, engine, workdir)
            if args.section in ("all", "query"):
                semantic_queries.main(pg.dsn, engine, workdir, max(1, args.repeat))
            engine.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(pg_root, ignore_errors=True)
    os.sys.stdout.flush()


def bench_load(args: argparse.Namespace, pg: LocalPostgis, engine: sa.Engine, workdir: Path) -> None:
    """The loader section: first loads, replaces, the 2x-time-steps memory run and the baselines."""
    print(f"writing cubes in {workdir} ...", flush=True)
    cube = write_cube(workdir / "bench.zarr", args.times)
    cube2 = None if args.no_rss_60 else write_cube(workdir / "bench2x.zarr", 2 * args.times)
    repeat = range(max(1, args.repeat))
    firsts = []
    for _ in repeat:
        if firsts:
            forget_cube(engine, "bench")
        settle(engine)
        firsts.append(run_loader(cube, pg.dsn, "bench"))
    replaces = []
    for _ in repeat:  # the same cube again: a replace
        settle(engine)
        replaces.append(run_loader(cube, pg.dsn, "bench"))
    loader, reload = median_run(firsts), median_run(replaces)
    peak_rss_mb = max(run["peak_rss_mb"] for run in firsts)
    settle(engine)
    double = run_loader(cube2, pg.dsn, "bench2x") if cube2 else None
    frame = observation_frame(engine, "bench", args.subset)
    to_sql = median_run([bench_to_sql(engine, frame) for _ in repeat])
    by_hand = median_run([bench_by_hand(engine, cube, args.subset) for _ in repeat])
    psql_copy = PsqlCopy(pg, engine, "bench", workdir)
    copy = median_run([psql_copy.run() for _ in repeat])

    def rate(r: dict) -> float:
        return r["rows"] / r["seconds"]

    print()
    print(f"{'method (median of the runs)':<44}{'rows':>12}{'seconds':>10}{'rows/s':>14}   all runs (s)")
    for label, run in (
        ("semantic load, end to end (first load)", loader),
        ("semantic load, end to end (replace)", reload),
        ("by hand: geopandas + pandas to_sql (subset)", by_hand),
        ("pandas to_sql alone (subset, obs only)", to_sql),
        ("psql \\copy of a ready CSV (no index)", copy),
    ):
        figures = f"{run['rows']:>12,}{run['seconds']:>10.2f}{rate(run):>14,.0f}"
        print(f"{label:<44}{figures}   {listed(run['all'])}")
    print()
    for label, baseline, target in (
        ("loader / \\copy", copy, "target >= 1.0x"),
        ("loader / by hand", by_hand, "target >= 25x"),
        ("loader / to_sql alone", to_sql, ""),
    ):
        print(
            f"ratio {label:<22}: {rate(loader) / rate(baseline):6.2f}x first load, "
            f"{rate(reload) / rate(baseline):6.2f}x replace  {target}"
        )
    print(f"peak RSS, {args.times} steps       : {peak_rss_mb:.0f} MB (largest of the first loads)")
    if double:
        print(
            f"peak RSS, {2 * args.times} steps       : {double['peak_rss_mb']:.0f} MB "
            f"({double['rows']:,} rows at {rate(double):,.0f} rows/s)"
        )
    if args.breakdown:
        print_breakdown(
            {
                "first load": loader,
                "replace": reload,
                **({f"{2 * args.times} steps": double} if double else {}),
            }
        )


def print_breakdown(runs: dict[str, dict]) -> None:
    """Phase timings of the loader runs side by side (indented rows run inside the phase above them)."""
    names = list(dict.fromkeys(name for run in runs.values() for name in run["phases"]))
    print()
    print(f"{'loader phase (s)':<40}" + "".join(f"{label:>14}" for label in runs))
    for name in names:
        print(f"{name:<40}" + "".join(f"{run['phases'].get(name, 0.0):>14.2f}" for run in runs.values()))
    print(f"{'total (end to end)':<40}" + "".join(f"{run['seconds']:>14.2f}" for run in runs.values()))


if __name__ == "__main__":
    main()
