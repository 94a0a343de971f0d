"""Measure one worker's throughput on this machine and scale it to the full-size UC3 cube.

`python -m usecases.uc3_fire_danger.throughput [--size DEG] [--days N]` writes demo inputs for a
`size`° x `size`° region (0.01°, so 100*size cells a side) over `days` days, then times, on one
thread each: building the cube (`cube_engine.api.gen`, workers=1) and building the use case's
table (`features.to_frame`, dask's synchronous scheduler). Throughput is counted in cell-values
(day x cell x variable) per second of wall time, and per second of CPU time (less sensitive to other
load on a shared machine). The full-size estimate assumes linear scaling over workers, which holds
while reads and writes do not saturate the object store; treat it as a lower bound on time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import dask

from cube_engine.api import gen, open_cube
from cube_engine.config import CubeConfig
from cube_engine.demo import sample_config, write_sample
from cube_engine.demo_fields import DEMO
from usecases.uc3_fire_danger import features

FULL = {"days": 4314, "lat": 562, "lon": 700, "variables": 58}
WORKERS = (4, 16, 64)


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def measure(size: float, days: int) -> dict:
    """Per-worker throughput of cube building and of the use case's table, on one thread."""
    spec = replace(DEMO, size=size, days=days)
    with tempfile.TemporaryDirectory(prefix="uc3-throughput-") as tmp:
        root = Path(tmp)
        write_sample(root, spec)
        raw = sample_config(spec, output=str(root / "cube.zarr"))
        for source in raw["sources"]:
            source["paths"] = [str(root / p) for p in source["paths"]]
        config = CubeConfig.model_validate(raw)
        _, gen_wall, gen_cpu = _timed(lambda: gen(config, workers=1))
        cube = open_cube(str(root / "cube.zarr"))
        dynamic = [n for n, v in cube.data_vars.items() if "time" in v.dims]
        values = cube.sizes["time"] * cube.sizes["lat"] * cube.sizes["lon"] * len(dynamic)
        table = features.build_table(cube)
        with dask.config.set(scheduler="synchronous"):
            frame, table_wall, table_cpu = _timed(lambda: features.to_frame(table))
    return {
        "cube": {"days": days, "lat": cube.sizes["lat"], "lon": cube.sizes["lon"], "variables": len(dynamic)},
        "cube_values": values,
        "gen_seconds": round(gen_wall, 2),
        "gen_cpu_seconds": round(gen_cpu, 2),
        "gen_values_per_s": round(values / gen_wall),
        "gen_values_per_cpu_s": round(values / gen_cpu),
        "table_rows": len(frame),
        "table_seconds": round(table_wall, 2),
        "table_cpu_seconds": round(table_cpu, 2),
        "table_values_per_s": round(values / table_wall),
    }


def full_size(per_worker: float, workers: tuple[int, ...] = WORKERS) -> dict[int, float]:
    """Hours to process the full UC3 cube at `per_worker` cell-values/s, for each worker count."""
    values = FULL["days"] * FULL["lat"] * FULL["lon"] * FULL["variables"]
    return {n: values / (per_worker * n) / 3600 for n in workers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=4.0, help="region side in degrees (0.01° cells)")
    parser.add_argument("--days", type=int, default=16)
    args = parser.parse_args()
    result = measure(args.size, args.days)
    result["full_cube_values"] = FULL["days"] * FULL["lat"] * FULL["lon"] * FULL["variables"]
    result["full_gen_hours"] = {n: round(h, 2) for n, h in full_size(result["gen_values_per_s"]).items()}
    result["full_gen_hours_cpu_bound"] = {
        n: round(h, 2) for n, h in full_size(result["gen_values_per_cpu_s"]).items()
    }
    result["full_table_hours"] = {n: round(h, 2) for n, h in full_size(result["table_values_per_s"]).items()}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
