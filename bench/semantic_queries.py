"""The query section of bench/bench_semantic.py: local GeoSPARQL answers against their SQL floor.

Workload: the demo cube (`cube-engine demo-data` then `cube-engine gen`, as scripts/demo.py builds it:
200 x 200 cells x 10 days x 9 variables + 2 static layers) and a 4x larger cube (the same cube tiled
2 x 2, 400 x 400 cells), both loaded into the same PostGIS. Measured, each `--repeat` times (median):
- a bbox + time + threshold question (the catalogue's first example: about 25 x 25 cells, the first
  week, values above their mean) answered by `semantic query` as a user runs it (a fresh process: wall
  time and peak RSS include start-up), over the demo cube and over the 4x cube (same bbox, same answer);
- the same answer in SQL (psycopg, in process): the floor;
- the whole-mapping materialisation `semantic query` used to do, on a 50 x 50-cell, 2-variable cut of
  the demo cube (the largest the old path answered in reasonable time), against the local path on the
  same cut: the baseline of the speed-up;
- every example query `semantic mapping` writes for the demo cube, each checked against its SQL twin
  (tests/semantic/catalogue_sql.py).
Every local answer is compared with its SQL; a mismatch stops the bench.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import sqlalchemy as sa
import xarray as xr
from repeats import listed, median_run

from semantic import api, queries
from tests.semantic import catalogue_sql

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LIMIT_SECONDS, LIMIT_MB = 10.0, 1024.0


def build_demo_cube(workdir: Path) -> Path:
    """The README demo's cube, built by the cube engine's own commands."""
    inputs, cube = workdir / "inputs", workdir / "demo.zarr"
    for argv in (
        [str(BIN / "cube-engine"), "demo-data", str(inputs)],
        [str(BIN / "cube-engine"), "gen", str(inputs / "cube.yaml"), "--output", str(cube)],
    ):
        subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)
    return cube


def tile_cube(source: Path, target: Path) -> Path:
    """The cube tiled 2 x 2 (east and south of itself): 4x the cells, the original in the north-west."""
    ds = xr.open_zarr(source)
    lon, lat = ds["lon"].values, ds["lat"].values
    width, height = lon[-1] - lon[0] + (lon[1] - lon[0]), lat[0] - lat[-1] + (lat[0] - lat[1])
    rows = []
    for dy in (0.0, -height):
        row = [ds.assign_coords(lon=lon + dx, lat=lat + dy) for dx in (0.0, width)]
        rows.append(xr.concat(row, dim="lon", data_vars="all", coords="minimal", compat="override"))
    tiled = xr.concat(rows, dim="lat", data_vars="all", coords="minimal", compat="override")
    tiled["crs"] = ds["crs"]
    tiled.attrs = {**ds.attrs, "title": f"{ds.attrs.get('title', 'cube')} tiled 2 x 2"}
    encoding = {}
    for name, var in tiled.data_vars.items():
        tiled[name].attrs = ds[name].attrs
        if var.ndim:
            encoding[name] = {"chunks": ds[name].encoding.get("chunks", var.shape)}
    tiled.to_zarr(target, mode="w", consolidated=True, zarr_format=2, encoding=encoding)
    return target


# Started by a small launcher: a child forked straight from the bench would report the bench's own
# memory as its peak (Linux keeps the pre-exec high-water mark in ru_maxrss).
LAUNCHER = (
    "import os, subprocess, sys, time\n"
    "started = time.perf_counter()\n"
    "child = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "child.returncode = os.waitstatus_to_exitcode(status)\n"
    "open(sys.argv[1], 'w').write(f'{time.perf_counter() - started} {usage.ru_maxrss}')\n"
    "sys.exit(child.returncode)\n"
)


def run_measured(argv: list[str], env: dict) -> dict:
    """Run a command as a user would; its wall seconds and the peak RSS of that process alone."""
    with tempfile.TemporaryDirectory() as tmp:
        figures, out, err = Path(tmp) / "figures", Path(tmp) / "out", Path(tmp) / "err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            done = subprocess.run(
                [sys.executable, "-c", LAUNCHER, str(figures), *argv],
                stdout=stdout,
                stderr=stderr,
                cwd=ROOT,
                env=env,
                check=False,
            )
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv[1:3])} failed ({done.returncode}): {err.read_text()[-2000:]}")
        seconds, kilobytes = figures.read_text().split()
        return {"seconds": float(seconds), "peak_rss": int(kilobytes) / 1024, "stdout": out.read_text()}


def csv_rows(text: str, like: list[tuple]) -> list[list]:
    """A `--format csv` answer as rows, numbers parsed back where the SQL answer `like` has numbers.

    Cell IRIs stay text here; `catalogue_sql.comparable` turns them into ids."""
    rows = list(csv.reader(io.StringIO(text)))[1:]
    numeric = (
        [isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in like[0]] if like else []
    )

    def value(cell: str, is_number: bool):
        if cell == "":
            return None
        if is_number and cell.lstrip("-").isdigit():
            return int(cell)
        try:
            return float(cell) if is_number else cell
        except ValueError:
            return cell

    return [[value(c, k < len(numeric) and numeric[k]) for k, c in enumerate(row)] for row in rows]


def sql_answer(engine: sa.Engine, sql: str) -> dict:
    started = time.perf_counter()
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(sql))]
    return {"seconds": time.perf_counter() - started, "rows": rows}


class QueryBench:
    """Local answers of one PostGIS, each checked against the same answer in SQL."""

    def __init__(self, dsn: str, engine: sa.Engine, workdir: Path, repeat: int) -> None:
        self.dsn, self.engine, self.workdir, self.repeat = dsn, engine, workdir, repeat
        self.env = {**os.environ, "DEEPCUBE_DSN": dsn}

    def local(self, query: Path, cube_id: str, builder: str, sql: str, *extra: str) -> dict:
        argv = [str(BIN / "semantic"), "query", str(query), "--cube-id", cube_id, "--format", "csv", *extra]
        runs = [run_measured(argv, self.env) for _ in range(self.repeat)]
        floor = median_run([sql_answer(self.engine, sql) for _ in range(self.repeat)])
        want = catalogue_sql.ordered(floor["rows"])
        for run in runs:
            got = catalogue_sql.comparable(builder, csv_rows(run["stdout"], floor["rows"]))
            if not catalogue_sql.equal(got, want, rel=1e-6):
                raise SystemExit(f"{query.name} on {cube_id}: the local answer differs from SQL")
        return {**median_run(runs), "rows": len(want), "sql": floor}

    def question(self, cube_id: str, params: dict) -> tuple[Path, str]:
        """The bbox + time + threshold question for a cube, as a query file and its SQL twin."""
        info = api.describe(cube_id, self.dsn)
        path = self.workdir / f"question_{cube_id}.rq"
        path.write_text(queries.bbox_time_threshold(info, **params))
        return path, catalogue_sql.twin(cube_id, "bbox_time_threshold", params)

    def old_path(self, cube_id: str, query: Path) -> dict:
        """The whole mapping materialised into rdflib, then the query: what `semantic query` did."""
        code = (
            "import resource, sys, time\n"
            "from semantic import api, query as local\n"
            "t = time.perf_counter()\n"
            "graph = api.materialise(sys.argv[1], sys.argv[2])\n"
            "result = local.evaluate(graph, local.parse(open(sys.argv[3]).read(), 'q', sys.argv[1]))\n"
            "print(len(result.bindings), len(graph), time.perf_counter() - t)\n"
        )
        run = run_measured([sys.executable, "-c", code, cube_id, self.dsn, str(query)], self.env)
        rows, triples, _ = run["stdout"].split()
        return {**run, "rows": int(rows), "triples": int(triples), "all": [run["seconds"]]}


def verdict(run: dict) -> str:
    ok = run["seconds"] <= LIMIT_SECONDS and run["max_peak_rss"] <= LIMIT_MB
    return "ok" if ok else f"OVER {LIMIT_SECONDS:.0f} s / {LIMIT_MB:.0f} MB"


def main(dsn: str, engine: sa.Engine, workdir: Path, repeat: int) -> None:
    print("building the demo cube and its 2 x 2 tiling ...", flush=True)
    demo = build_demo_cube(workdir)
    tiled = tile_cube(demo, workdir / "demo4x.zarr")
    api.load(str(demo), dsn, cube_id="demo")
    api.load(str(tiled), dsn, cube_id="demo4x")
    api.load(
        str(demo),
        dsn,
        cube_id="demo_cut",
        bbox="10.5,45.5,11.0,46.0",
        variables=["aerosol_optical_depth", "air_temperature_2m", "elevation", "land_cover"],
    )
    bench = QueryBench(dsn, engine, workdir, repeat)
    examples = api.catalogue("demo", dsn)
    params = dict(examples["01_bbox_time_threshold.rq"].params)

    print("answering ...", flush=True)
    figures = {}
    for cube_id in ("demo", "demo4x"):
        query, sql = bench.question(cube_id, params)
        figures[cube_id] = bench.local(query, cube_id, "bbox_time_threshold", sql)
    cut_params = {**params, "bbox": (10.6, 45.6, 10.9, 45.9)}
    cut_query, cut_sql = bench.question("demo_cut", cut_params)
    cut_new = bench.local(cut_query, "demo_cut", "bbox_time_threshold", cut_sql)
    cut_old = bench.old_path("demo_cut", cut_query)
    if cut_old["rows"] != cut_new["rows"]:
        raise SystemExit(f"whole-mapping path: {cut_old['rows']} rows, local path {cut_new['rows']}")

    catalogue = {}
    mapping = workdir / "mapping"
    api.write_mapping("demo", dsn, mapping)
    for name, example in examples.items():
        sql = catalogue_sql.twin("demo", example.builder, example.params)
        catalogue[name] = bench.local(mapping / "queries" / name, "demo", example.builder, sql)

    report(params, figures, cut_new, cut_old, catalogue)


def report(params: dict, figures: dict, cut_new: dict, cut_old: dict, catalogue: dict) -> None:
    bbox = ",".join(f"{v:g}" for v in params["bbox"])
    print()
    print(
        f"question: {params['variable']} > {params['threshold']} in bbox {bbox}, "
        f"{params['start']:%Y-%m-%d} .. {params['end']:%Y-%m-%d} (median of runs; peak RSS: largest run)"
    )
    print(f"{'':<34}{'rows':>7}{'local s':>9}{'peak MB':>9}{'SQL s':>8}{'local/SQL':>10}   all runs (s)")
    for label, run in (
        ("demo cube (40,000 cells)", figures["demo"]),
        ("4x cube (160,000 cells)", figures["demo4x"]),
        ("50 x 50-cell cut, local path", cut_new),
    ):
        ratio = run["seconds"] / run["sql"]["seconds"]
        print(
            f"{label:<34}{run['rows']:>7,}{run['seconds']:>9.2f}{run['max_peak_rss']:>9.0f}"
            f"{run['sql']['seconds']:>8.3f}{ratio:>9.0f}x   {listed(run['all'])}"
        )
    print(
        f"{'50 x 50-cell cut, whole mapping':<34}{cut_old['rows']:>7,}{cut_old['seconds']:>9.2f}"
        f"{cut_old['peak_rss']:>9.0f}{'':>8}{'':>10}   ({cut_old['triples']:,} triples materialised)"
    )
    print()
    demo, big = figures["demo"], figures["demo4x"]
    print(f"demo cube: {demo['seconds']:.2f} s, {demo['max_peak_rss']:.0f} MB  -> {verdict(demo)}")
    print(f"4x cube / demo cube: {big['seconds'] / demo['seconds']:.2f}x time  (target < 2x)")
    print(f"local path / whole mapping on the cut: {cut_old['seconds'] / cut_new['seconds']:.1f}x faster")
    print()
    print(f"{'example query (demo cube)':<40}{'rows':>7}{'local s':>9}{'peak MB':>9}{'SQL s':>8}   limits")
    for name, run in catalogue.items():
        print(
            f"{name:<40}{run['rows']:>7,}{run['seconds']:>9.2f}{run['max_peak_rss']:>9.0f}"
            f"{run['sql']['seconds']:>8.3f}   {verdict(run)}"
        )
    answers = np.array([run["seconds"] for run in catalogue.values()])
    print(f"all {len(catalogue)} examples equal their SQL; slowest {answers.max():.2f} s")
