"""Building the cube plan: discover and plan every source, fix the time axis and the chunking, and
list the tasks — all before anything is written, so bad input fails with nothing stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .config import CubeConfig
from .constants import CHUNK_PRESETS
from .cubeplan import AppendTarget, CubePlan
from .errors import ConfigError, GridError, SourceError, TimeAxisError
from .grid import Grid
from .plan import SourcePlan, plan_source
from .readers import SourceInfo
from .settings import EngineSettings, load_settings
from .steps import discover_all, gen_starts
from .tasks import chunk_tasks
from .timeaxis import assign_periods, period_bounds
from .writer import ChunkShape, OutputVariable

_METHODS = ("nearest", "bilinear", "block_mean", "mode")


@dataclass(frozen=True)
class Extension:
    """An append's input: the cube's time axis and chunks, the new period starts, the cube's
    path and its time-dependent variables."""

    cube_path: str
    cube_times: pd.DatetimeIndex
    starts: pd.DatetimeIndex
    chunks: ChunkShape
    timed: tuple[str, ...]


def resolve_chunks(config: CubeConfig, grid: Grid, n_times: int | None) -> ChunkShape:
    preset = CHUNK_PRESETS[config.chunks.preset or "image"]
    t = config.chunks.time or preset["time"]
    y = config.chunks.y or preset["y"]
    x = config.chunks.x or preset["x"]
    return ChunkShape(min(t, n_times or 1), min(y, grid.height), min(x, grid.width))


def target_grid(config: CubeConfig) -> Grid:
    try:
        return Grid.from_bbox(config.grid.bbox, config.grid.resolution, config.grid.crs)
    except GridError as exc:
        raise ConfigError(str(exc), "grid.bbox") from None


def _variable_attrs(info: SourceInfo, name: str) -> dict[str, Any]:
    var = info.variables[name]
    cfg = var.config
    attrs = {
        "units": cfg.units or str(var.attrs.get("units", "1")),
        "long_name": cfg.long_name or str(var.attrs.get("long_name", name)),
        "source": info.config.name,
    }
    standard_name = cfg.standard_name or var.attrs.get("standard_name")
    if standard_name:
        attrs["standard_name"] = str(standard_name)
    return attrs


def _plan_one(info: SourceInfo, grid: Grid, index: int) -> SourcePlan:
    try:
        plan = plan_source(info.grid, grid)
    except GridError as exc:
        raise GridError(f"{info.what}: {exc}") from None
    if not plan.overlaps():
        b = ", ".join(f"{v:g}" for v in info.grid.bbox)
        t = ", ".join(f"{v:g}" for v in grid.bbox)
        raise SourceError(f"{info.what}: its extent ({b}) does not overlap the target grid ({t})")
    source = info.config
    for v in source.variables:
        if plan.resolve_method(v.resampling or source.resampling) not in _METHODS:
            raise ConfigError("unknown resampling", f"sources.{index}.variables")
    return plan


def build_plan(
    config: CubeConfig,
    *,
    discovered: list[SourceInfo] | None = None,
    extension: Extension | None = None,
    settings: EngineSettings | None = None,
) -> CubePlan:
    """Discover and plan every source and list the tasks; raises on any bad input before anything
    is written. `discovered`: the sources, when the caller has discovered them already;
    `extension`: what an append adds to (its new periods are indexed after the cube's steps)."""
    settings = load_settings() if settings is None else settings
    grid = target_grid(config)
    discovered = discover_all(config) if discovered is None else discovered
    offset = 0 if extension is None else len(extension.cube_times)
    starts = None if extension is None else extension.starts
    if config.time is not None and any(not s.static for s in config.sources):
        starts = gen_starts(config.time, discovered) if starts is None else starts
        bounds = period_bounds(starts, config.time.frequency)
    else:
        starts, bounds = None, None
    plans, obs_period, warnings = [], [], []
    infos = tuple(discovered)
    for index, info in enumerate(infos):
        plans.append(_plan_one(info, grid, index))
        if info.static or bounds is None:
            periods = np.zeros(len(info.obs_time), dtype="int64")
        else:
            periods = assign_periods(info.obs_time, bounds)
            periods[periods >= 0] += offset
            if not (periods >= 0).any():
                first, last = info.obs_time.min(), info.obs_time.max()
                warnings.append(
                    f"{info.what}: no observation between {starts[0].date()} and "
                    f"{starts[-1].date()} (it has {str(first)[:10]}..{str(last)[:10]})"
                )
        obs_period.append(periods)
    timed = [i for i, s in enumerate(infos) if not s.static]
    if timed and not any((obs_period[i] >= 0).any() for i in timed):
        raise TimeAxisError(
            f"time: no observation of any source falls between {config.time.start} and "
            f"{config.time.end or starts[-1].date()}"
        )
    variables = tuple(
        OutputVariable(v.output_name, info.static, _variable_attrs(info, v.output_name))
        for info in infos
        for v in info.config.variables
    )
    append = None
    if extension is None:
        times = starts
        chunks = resolve_chunks(config, grid, None if starts is None else len(starts))
    else:
        times = extension.cube_times.append(extension.starts)
        chunks = extension.chunks
        append = AppendTarget(extension.cube_path, offset, frozenset(extension.timed))
    tasks = chunk_tasks(
        infos,
        plans,
        obs_period,
        height=grid.height,
        width=grid.width,
        chunks=chunks,
        n_times=None if times is None else len(times),
        compute_from=offset,
        budget=settings.task_budget,
    )
    return CubePlan(
        config,
        grid,
        times,
        infos,
        tuple(plans),
        tuple(obs_period),
        chunks,
        variables,
        tasks,
        settings,
        tuple(warnings),
        append,
    )
