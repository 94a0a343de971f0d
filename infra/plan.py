"""Offline plan CLI: `python -m infra.plan STACK [--set KEY=VALUE ...] [--json]`.

Runs the real program under the recording monitor, so merge requests and laptops get a plan
without the Pulumi CLI or cloud credentials. `diff` compares the plans at a git revision and the
working tree; `check` runs the policies (exit 1 on violations). `--config-file FILE` plans a
stack from another copy of its values (like `pulumi --config-file`). Errors have the platform's
one form (`deepcube.cli`): bad input, including a bad option, is one line on stderr,
`infra.plan: error: <message>`, printed literally, with exit code 2
(`python -m infra.plan --traceback <command> ...` shows the Python traceback instead).
"""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from deepcube.cli import Boundary, CliApp
from deepcube.config_errors import in_file
from infra.config import CONFIG_SECTIONS
from infra.config_errors import ConfigError
from infra.manifest import Manifest
from infra.offline import PlanError, evaluate
from infra.plan_diff import RENDERERS, PlanDiffError, diff_manifests, diff_revision, load_manifest_file
from infra.plan_view import plan_view
from infra.policies import POLICY_CONFIG_KEY, PolicyConfigError, check_manifest, short_config
from infra.stack_files import (
    REPO_ROOT,
    ProjectFile,
    StackConfig,
    StackFileError,
    apply_override,
    parse_override,
    read_stack,
)

BOUNDARY = Boundary("infra.plan", StackFileError, ConfigError, PolicyConfigError, PlanError, PlanDiffError)
app = CliApp(
    BOUNDARY, no_args_is_help=True, help="Offline plans of the platform's stacks (no Pulumi CLI, no cloud)."
)

PROGRAM_KEYS = (*CONFIG_SECTIONS, POLICY_CONFIG_KEY)
"""The project's config keys that the program and `check` read; any other one is a typo."""

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one stack config value by dotted key, e.g. swarm.workers.count=5."),
]
ConfigFileOption = Annotated[
    Path | None,
    typer.Option(
        "--config-file",
        help="Read the stack's values from this file instead of Pulumi.<stack>.yaml "
        "(like `pulumi --config-file`), e.g. an edited copy to try a change.",
    ),
]


def _read(stack: str, overrides: list[str], config_file: Path | None) -> tuple[ProjectFile, StackConfig]:
    """The stack's config with overrides applied; unknown project keys are refused."""
    project, config = read_stack(stack, known_keys=PROGRAM_KEYS, config_file=config_file)
    for text in overrides:
        apply_override(config, project.name, *parse_override(text), known_keys=PROGRAM_KEYS)
    return project, config


def _stack_file(stack: str, config_file: Path | None) -> str:
    """The file a stack's values come from, as the error lines name it."""
    return str(config_file) if config_file is not None else f"Pulumi.{stack}.yaml"


def _plan(
    stack: str, overrides: list[str], config_file: Path | None = None
) -> tuple[ProjectFile, StackConfig, Manifest]:
    """The stack's config (read first, so a bad stack file is told before anything runs) and its
    offline plan; a config error raised inside the program is told as the config's own line, with
    the stack file it is about."""
    project, config = _read(stack, overrides, config_file)
    try:
        return project, config, evaluate(stack, overrides, config_file=config_file)
    except PlanError as exc:
        if isinstance(exc.__cause__, ConfigError):
            raise ConfigError(in_file(str(exc.__cause__), _stack_file(stack, config_file))) from exc
        raise


@app.command()
def show(
    stack: Annotated[str, typer.Argument(help="Stack name: reads Pulumi.<stack>.yaml.")],
    set_: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the sorted JSON manifest.")] = False,
    config_file: ConfigFileOption = None,
) -> None:
    """Print what STACK declares: a tree by parent with counts per type, or the JSON manifest."""
    _, _, manifest = _plan(stack, set_ or [], config_file)
    if as_json:
        sys.stdout.write(manifest.to_json())
    else:
        Console().print(plan_view(manifest))


class DiffFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


@app.command()
def diff(
    stacks: Annotated[
        list[str] | None, typer.Argument(help="Stacks to diff (default: every Pulumi.*.yaml).")
    ] = None,
    base: Annotated[
        str | None, typer.Option("--base", help="Base git revision; default: merge base with main.")
    ] = None,
    from_: Annotated[Path | None, typer.Option("--from", help="Old manifest JSON (with --to).")] = None,
    to: Annotated[Path | None, typer.Option("--to", help="New manifest JSON (with --from).")] = None,
    format_: Annotated[DiffFormat, typer.Option("--format", help="text, markdown (MR comment) or json.")] = (
        DiffFormat.text
    ),
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when anything changed.")] = False,
) -> None:
    """Resources added, removed and changed per stack between git revision BASE and the working tree."""
    if from_ is not None or to is not None:
        if from_ is None or to is None or stacks or base:
            BOUNDARY.fail("--from and --to go together, without --base or stack names")
        old, new = load_manifest_file(from_), load_manifest_file(to)
        label = f"{from_.name} → {to.name}"
        diffs = [diff_manifests(new.stack, old, new)]
    else:
        label, diffs = diff_revision(REPO_ROOT, base, stacks or [])
    sys.stdout.write(RENDERERS[format_.value](diffs, label))
    if exit_code and any(not d.empty for d in diffs):
        raise typer.Exit(1)


@app.command()
def check(
    stack: Annotated[str, typer.Argument(help="Stack name: reads Pulumi.<stack>.yaml.")],
    set_: SetOption = None,
    config_file: ConfigFileOption = None,
) -> None:
    """Run every policy on STACK's offline plan: one line per violation, exit 1 if there are any.

    Settings come from the stack config key `policy` (e.g. `policy: {gpu_budget: 4}`).
    """
    project, config, manifest = _plan(stack, set_ or [], config_file)
    try:
        violations = check_manifest(manifest, short_config(config.values, project.name))
    except PolicyConfigError as exc:
        raise PolicyConfigError(in_file(str(exc), _stack_file(stack, config_file))) from None
    for violation in violations:
        sys.stdout.write(f"{stack}: {violation.line()}\n")
    sys.stderr.write(f"{stack}: {len(violations)} violation(s) in {len(manifest.resources)} resources\n")
    if violations:
        raise typer.Exit(1)


COMMANDS = {"show", "diff", "check"}


def _with_command(args: list[str]) -> list[str]:
    """A bare stack name means `show STACK` (also after the global `--traceback`); no arguments at
    all means `--help`."""
    if not args:
        return ["--help"]
    first = next((i for i, arg in enumerate(args) if not arg.startswith("-")), None)
    if first is not None and args[first] not in COMMANDS:
        return [*args[:first], "show", *args[first:]]
    return args


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI (its errors one line each, see the module docstring) and exits."""
    # Failed RPC futures are re-raised as one PlanError; asyncio's "never retrieved" echoes are noise.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    app(args=_with_command(list(sys.argv[1:] if argv is None else argv)), prog_name="python -m infra.plan")


if __name__ == "__main__":
    main()
