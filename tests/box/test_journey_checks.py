"""The journey's own verdicts, on the real ovh plan: a wiring fault put back fails the step that
needs the wiring, before any container runs, and names what is missing."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from infra.box.journey import Platform, StepFailed, plan_service, step_cube
from infra.box.usecase_step import FIGURES, check_outcome, step_usecase
from infra.manifest import Manifest

CUBE = "s3://deepcube-platform-ovh-store-cubes-published/fire_risk.zarr"


def _platform(manifest: Manifest) -> Platform:
    def no_engine(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("the check must fail before any container is reached")

    return Platform(manifest=manifest, engine_for=no_engine, running=set(), domain="deepcube.localhost")


def _without(manifest: Manifest, service: str, edit) -> Manifest:
    """A copy of the manifest in which one service's declared inputs were edited."""
    changed = copy.deepcopy(manifest)
    record = plan_service(changed, service)
    assert record is not None
    inputs = copy.deepcopy(record.inputs)
    edit(inputs["taskSpec"]["containerSpec"])
    changed.resources = [
        dataclasses.replace(r, inputs=inputs) if r.urn == record.urn else r for r in changed.resources
    ]
    return changed


def test_the_plan_gives_jupyter_and_dask_the_s3_wiring(ovh_manifest: Manifest) -> None:
    started: list[str] = []

    def ensure_running(record) -> None:
        started.append(str(record.inputs["name"]))
        raise StepFailed("stop here: the wiring check passed")

    with pytest.raises(StepFailed, match="stop here"):
        step_cube(_platform(ovh_manifest), lambda _line: None, ensure_running)
    assert started == ["deepcube-platform-ovh-jupyter"]


def test_workers_without_the_credentials_secret_fail_step_b_naming_them(ovh_manifest: Manifest) -> None:
    def drop_secret(container: dict) -> None:
        container["secrets"] = [s for s in container.get("secrets") or [] if "s3" not in s["fileName"]]

    broken = _without(ovh_manifest, "dask-worker", drop_secret)
    with pytest.raises(StepFailed) as failed:
        step_cube(_platform(broken), lambda _line: None, lambda _r: None)
    message = str(failed.value)
    assert "S3 wiring missing" in message and "dask-worker lacks a secret mounted at" in message
    assert "jupyter" not in message and "scheduler" not in message


def test_workers_without_the_endpoint_fail_step_b(ovh_manifest: Manifest) -> None:
    def drop_endpoint(container: dict) -> None:
        container["env"] = {k: v for k, v in container["env"].items() if k != "AWS_ENDPOINT_URL"}

    broken = _without(ovh_manifest, "dask-worker", drop_endpoint)
    with pytest.raises(StepFailed, match="dask-worker lacks env AWS_ENDPOINT_URL"):
        step_cube(_platform(broken), lambda _line: None, lambda _r: None)


def test_a_notebook_without_the_scheduler_address_fails_step_f(ovh_manifest: Manifest) -> None:
    def drop_scheduler(container: dict) -> None:
        container["env"] = {k: v for k, v in container["env"].items() if k != "DASK_SCHEDULER_ADDRESS"}

    broken = _without(ovh_manifest, "jupyter", drop_scheduler)
    with pytest.raises(StepFailed, match="no DASK_SCHEDULER_ADDRESS"):
        step_usecase(_platform(broken), lambda _line: None, lambda _r: None)


def _result(model: float = 0.9, base: float = 0.7, **changes: object) -> dict:
    result = {
        "model": {"roc_auc": model, "pr_auc": 0.5},
        "baseline": "climatology",
        "baselines": {"climatology": {"roc_auc": base}, "persistence": {"roc_auc": 0.6}},
        "positive_rate": 0.05,
        "test_days": 4,
        "cube": CUBE,
        "where": "computing on dask cluster tcp://dask-scheduler:8786 (3 workers)",
        "figures": {name: 50_000 for name in FIGURES},
    }
    result.update(changes)
    return result


def test_the_use_case_outcome_is_judged_from_what_the_notebook_wrote() -> None:
    line = check_outcome(_result(), CUBE)
    assert "ROC AUC 0.900 vs climatology baseline 0.700 on 4 held-out days" in line
    with pytest.raises(StepFailed, match="does not beat the climatology baseline"):
        check_outcome(_result(model=0.65), CUBE)
    with pytest.raises(StepFailed, match=r"fire_danger_map\.png"):
        check_outcome(_result(figures={"feature_importance.png": 40_000}), CUBE)
    with pytest.raises(StepFailed, match="did not compute on the Dask cluster: computing on local threads"):
        check_outcome(_result(where="computing on local threads"), CUBE)
    with pytest.raises(StepFailed, match="not the platform's cube"):
        check_outcome(_result(cube="out/demo/cube.zarr"), CUBE)
