"""Evaluate the real Pulumi program for one stack, offline, and return its manifest.

This mirrors what the Python language host does under `pulumi up` (a root Stack resource, the
program folder run as `__main__` with that folder as the working directory, then waiting for
every outstanding RPC), but against the recording monitor instead of the engine. Only the SDK's
public runtime entry points are used: `reset_options` and `configure` to point the runtime at the
monitor, `set_all_config` for the stack's config, and `run_in_stack` driven to completion on an
asyncio event loop of its own, as the language host and the Automation API's inline programs do.
The Pulumi runtime keeps global state, so each call resets it first; plans of different stacks
can still run one after another in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import runpy
from collections.abc import Callable, Iterable
from pathlib import Path

import pulumi.runtime
from pulumi.runtime import mocks as pulumi_mocks

from infra.manifest import Manifest, ResourceRecord, plain_value
from infra.mock_engine import PlanMocks, RecordingMonitor, Registration
from infra.mock_outputs import COMPUTED_OUTPUTS, INVOKES
from infra.stack_files import REPO_ROOT, apply_override, parse_override, read_stack


class PlanError(RuntimeError):
    """The program failed while being evaluated; the message carries the program's own error."""


def _install_monitor(monitor: RecordingMonitor, project: str, stack: str, root: Path) -> None:
    """Point the runtime at `monitor`, like `pulumi.runtime.set_mocks` but without a root stack.

    `set_mocks` registers a root Stack at once, before the program runs, so the program's exports
    would never reach it; `run_in_stack` registers its own. `reset_options` first drops the root
    resource and every per-run collection (pending outputs, package references) of an earlier
    plan in this process, as the Automation API does before each inline program.
    """
    pulumi.runtime.reset_options(
        project=project, stack=stack, root_directory=str(root), preview=False, organization="organization"
    )
    features = set(monitor.GetDeploymentInfo(None).supportedFeatures)
    pulumi.runtime.configure(
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


def run_program(program: Callable[[], object]) -> None:
    """Run `program` inside a new root Stack and wait for every RPC and output it started.

    The language host (`pulumi-language-python-exec`) and the Automation API's inline runner both
    hand `run_in_stack` to a fresh event loop's `run_until_complete`; `asyncio.run` does that and
    then cancels whatever a failed program left pending, so nothing of one plan leaks into the
    next. Like them, it must not be called from inside a running event loop.
    """
    asyncio.run(pulumi.runtime.run_in_stack(program))


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
    _install_monitor(monitor, project.name, stack, root.resolve())
    pulumi.runtime.set_all_config(config.as_pulumi_strings(), sorted(config.secret_keys))

    program = project.main.resolve()
    working_dir = program if program.is_dir() else program.parent
    gc_was_enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        with contextlib.chdir(working_dir):
            run_program(lambda: runpy.run_path(str(program), run_name="__main__"))
    except Exception as exc:
        raise PlanError(f"stack {stack}: {type(exc).__name__}: {exc}") from exc
    finally:
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
