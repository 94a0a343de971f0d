"""The state of one box run, shared by its steps and its teardown."""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.box.apply import Applier
from infra.box.dockerd import Engine, Layout
from infra.box.nodes import Cluster
from infra.box.plan import BoxPlan, RunKey
from infra.box.progress import Progress


@dataclass
class Image:
    """What the box runs for one declared image."""

    declared: str
    local: str | None = None
    how: str = ""
    """`built` (a repository image), `stand-in: <software>`, or `declared only: <why>`."""


@dataclass
class Run:
    """State of one box run, for the steps and for the teardown."""

    progress: Progress
    layout: Layout
    stack: str
    overrides: list[str]
    run_key: RunKey = field(default_factory=RunKey)
    engine: Engine | None = None
    cluster: Cluster | None = None
    plan: BoxPlan | None = None
    images: dict[str, Image] = field(default_factory=dict)
    applier: Applier | None = None
    running: set[str] = field(default_factory=set)
    completed: set[str] = field(default_factory=set)
    """One-shot jobs the journey ran to completion."""
    problems: dict[str, str] = field(default_factory=dict)
    failed_steps: list[str] = field(default_factory=list)
    passed_steps: list[str] = field(default_factory=list)
