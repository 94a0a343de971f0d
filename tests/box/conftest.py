"""The real ovh plan, evaluated once for the box's tests (fresh secrets, never written anywhere)."""

from __future__ import annotations

import pytest

from infra.box.cli import BOX_OVERRIDES
from infra.box.plan import BoxPlan, RunKey, evaluate_plan
from infra.manifest import Manifest


@pytest.fixture(scope="session")
def run_key() -> RunKey:
    return RunKey()


@pytest.fixture(scope="session")
def ovh_plan(run_key: RunKey) -> BoxPlan:
    return evaluate_plan("ovh", BOX_OVERRIDES, run_key)


@pytest.fixture(scope="session")
def ovh_manifest(ovh_plan: BoxPlan) -> Manifest:
    return ovh_plan.manifest
