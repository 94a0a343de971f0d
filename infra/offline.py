"""Evaluate the real Pulumi program for one stack, offline, and return its manifest.

This mirrors what the Python language host does under `pulumi up` (a root Stack resource, the
program folder run as `__main__` with that folder as the working directory, then waiting for
every outstanding RPC), but against the recording monitor instead of the engine. The Pulumi
runtime keeps global state, so each call resets it first; plans of different stacks can still
run one after another in one process.
"""

from __future__ import annotations

import contextlib
import gc
import runpy
from collections.abc import Iterable
from pathlib import Path

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from infra.manifest import Manifest, ResourceRecord, plain_value
from infra.mock_engine import PlanMocks, RecordingMonitor, Registration
from infra.mock_outputs import COMPUTED_OUTPUTS, INVOKES
from infra.stack_files import REPO_ROOT, apply_override, parse_override, read_stack


class PlanError(RuntimeError):
    """The program failed while being evaluated; the message carries the program's own error."""


def _install_monitor(monitor: RecordingMonitor, project: str, stack: str) -> None:
    """Configure the runtime like `pulumi.runtime.set_mocks`, but without a pre-made root stack."""
    pulumi_settings.ROOT.set(None)
    features = set(monitor.GetDeploymentInfo(None).supportedFeatures)
    pulumi_settings.configure(
        pulumi_mocks.MockSettings(
            monitor=monitor,
            monitor_features=features,
            engine=pulumi_mocks.MockEngine(None),
            project=project,
            stack=stack,
            dry_run=False,
            organization="organization",
            callbacks=None,
        )
    )


def evaluate(
    stack: str,
    overrides: Iterable[str] = (),
    root: Path = REPO_ROOT,
    config_file: Path | None = None,
    *,
    mocks: PlanMocks | None = None,
    recorded: dict[str, Registration] | None = None,
) -> Manifest:
    """Run `infra/__main__.py` for `stack` under the recording monitor and collect what it declares.

    `overrides` are `dotted.key=value` strings applied to the stack config before the run;
    `config_file` replaces `Pulumi.<stack>.yaml` (like `pulumi --config-file`).
    The program runs in its own folder, as under the Pulumi CLI (`main: infra/` makes `infra/` the
    working directory of the program and of the providers), so paths it passes relative to its
    working directory are recorded exactly as `pulumi up` would send them.
    GC is frozen during the run: the runtime allocates many short-lived objects and collection
    otherwise dominates large plans.
    `mocks` replaces the stand-in outputs (the box gives generated secrets fresh values) and
    `recorded` receives the raw registrations, secrets unredacted, for callers that must use the
    values in memory (the box creates the Swarm secrets from them); the manifest stays redacted.
    """
    project, config = read_stack(stack, root, config_file=config_file)
    for text in overrides:
        key, value = parse_override(text)
        apply_override(config, project.name, key, value)

    monitor = RecordingMonitor(mocks or PlanMocks(COMPUTED_OUTPUTS, INVOKES), project.name, stack)
    _install_monitor(monitor, project.name, stack)
    pulumi.runtime.set_all_config(config.as_pulumi_strings(), sorted(config.secret_keys))

    program = project.main.resolve()
    working_dir = program if program.is_dir() else program.parent
    gc_was_enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        with contextlib.chdir(working_dir):
            _sync_await(run_in_stack(lambda: runpy.run_path(str(program), run_name="__main__")))
    except Exception as exc:
        raise PlanError(f"stack {stack}: {type(exc).__name__}: {exc}") from exc
    finally:
        pulumi_settings.ROOT.set(None)
        if gc_was_enabled:
            gc.enable()
        gc.unfreeze()

    if recorded is not None:
        recorded.update(monitor.registrations)
    records = sorted(
        (ResourceRecord.from_registration(reg) for reg in monitor.registrations.values()),
        key=lambda record: record.urn,
    )
    return Manifest(
        project=project.name,
        stack=stack,
        resources=records,
        outputs=plain_value(monitor.stack_outputs),
    )
