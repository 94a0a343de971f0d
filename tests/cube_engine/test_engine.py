"""The task list and the threaded pipeline: bands of whole tiles under a memory budget give the same
cube as one band, and a failure in any stage stops the run with that error."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from cube_engine import api, bands
from cube_engine.config import load_config
from cube_engine.planning import Extension, build_plan
from tests.cube_engine.conftest import write_config


def test_small_task_budget_splits_bands_and_gives_the_same_cube(workspace, monkeypatch):
    config = load_config(write_config(workspace))
    api.gen(config)
    one_band = build_plan(config).tasks
    monkeypatch.setenv("CUBE_ENGINE_TASK_MB", "0.05")  # ~52 kB: one 50x50 tile of 4-5 days per task
    many = build_plan(config).tasks
    assert len(many) > len(one_band)
    for task in many:  # bands are whole tiles
        assert task.rows[0] % 50 == 0 and task.cols[0] % 50 == 0
    small = load_config(write_config(workspace, "small.yaml", output={"path": "small.zarr"}))
    api.gen(small)
    a = xr.open_zarr(workspace / "cube.zarr")
    b = xr.open_zarr(workspace / "small.zarr")
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


@pytest.mark.parametrize("stage", ["read_band", "write_tile"])
def test_a_failing_stage_stops_the_run_and_publishes_nothing(workspace, monkeypatch, stage):
    config = load_config(write_config(workspace))
    original = getattr(bands, stage)
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError(f"injected failure in {stage}")
        return original(*args)

    monkeypatch.setattr(bands, stage, failing)
    with pytest.raises(RuntimeError, match="injected failure"):
        api.gen(config)
    assert not (workspace / "cube.zarr").exists()
    assert not list(workspace.glob("cube.zarr.*"))  # no staging folder, no lock file


def test_the_plan_is_a_frozen_value_that_pickles_for_dask_workers(workspace):
    import dataclasses
    import pickle

    plan = build_plan(load_config(write_config(workspace)))
    assert isinstance(plan.tasks, tuple) and plan.tasks
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.tasks = ()
    copy = pickle.loads(pickle.dumps(plan))
    assert copy.tasks == plan.tasks and copy.grid == plan.grid and copy.chunks == plan.chunks
    assert [p.scale for p in copy.source_plans] == [p.scale for p in plan.source_plans]
    task = plan.tasks[0]
    assert bands.read_band(copy, task).data.tobytes() == bands.read_band(plan, task).data.tobytes()


def test_an_append_writes_time_dependent_arrays_against_the_whole_time_axis(workspace):
    config = load_config(write_config(workspace))
    built = build_plan(config)
    assert [built.array_shape(v.name) for v in built.variables] == [None] * len(built.variables)
    timed = tuple(v.name for v in built.variables if not v.static)
    extension = Extension("cube.zarr", built.times[:2], built.times[2:], built.chunks, timed)
    plan = build_plan(config, extension=extension)
    assert plan.compute_from == 2 and len(plan.times) == 6
    assert {v.name: plan.array_shape(v.name) for v in plan.variables} == {
        v.name: None if v.static else (6, 100, 100) for v in built.variables
    }
    assert any(v.static for v in built.variables) and timed  # both kinds of array are checked
