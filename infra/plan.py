"""Offline plan CLI: `python -m infra.plan STACK [--set KEY=VALUE ...] [--json]`.

Runs the real program under the recording monitor, so merge requests and laptops get a plan
without the Pulumi CLI or cloud credentials. `diff` compares the plans at a git revision and the
working tree; `check` runs the policies (exit 1 on violations). `--config-file FILE` plans a
stack from another copy of its values (like `pulumi --config-file`). Errors, including a bad
option, are one line on stderr, printed literally, with exit code 2.
"""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

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
TracebackOption = Annotated[bool, typer.Option("--traceback", help="Show the full error.")]


@app.callback()
def _commands() -> None:
    """Offline plans of the platform's stacks (no Pulumi CLI, no cloud)."""


def _one_line(message: str) -> str:
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())


def _fail(message: str) -> None:
    """Print `error: MESSAGE` as plain text (no markup: patterns like `^[a-z]` stay intact), exit 2."""
    sys.stderr.write(f"error: {_one_line(message)}\n")
    raise typer.Exit(2)


def _read(stack: str, overrides: list[str], config_file: Path | None) -> tuple[ProjectFile, StackConfig]:
    """The stack's config with overrides applied; unknown project keys are refused."""
    project, config = read_stack(stack, known_keys=PROGRAM_KEYS, config_file=config_file)
    for text in overrides:
        apply_override(config, project.name, *parse_override(text), known_keys=PROGRAM_KEYS)
    return project, config


def _plan(stack: str, overrides: list[str], traceback: bool, config_file: Path | None = None) -> Manifest:
    """Evaluate offline, turning the known failures into one-line errors."""
    try:
        _read(stack, overrides, config_file)
        return evaluate(stack, overrides, config_file=config_file)
    except (StackFileError, ConfigError) as exc:
        if traceback:
            raise
        _fail(str(exc))
    except PlanError as exc:
        if traceback:
            raise
        cause = exc.__cause__
        _fail(str(cause) if isinstance(cause, ConfigError) else str(exc))
    raise AssertionError("unreachable")  # pragma: no cover - _fail always raises


@app.command()
def show(
    stack: Annotated[str, typer.Argument(help="Stack name: reads Pulumi.<stack>.yaml.")],
    set_: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the sorted JSON manifest.")] = False,
    traceback: TracebackOption = False,
    config_file: ConfigFileOption = None,
) -> None:
    """Print what STACK declares: a tree by parent with counts per type, or the JSON manifest."""
    manifest = _plan(stack, set_ or [], traceback, config_file)
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
    try:
        if from_ is not None or to is not None:
            if from_ is None or to is None or stacks or base:
                _fail("--from and --to go together, without --base or stack names")
            old, new = load_manifest_file(from_), load_manifest_file(to)
            label = f"{from_.name} → {to.name}"
            diffs = [diff_manifests(new.stack, old, new)]
        else:
            label, diffs = diff_revision(REPO_ROOT, base, stacks or [])
    except PlanDiffError as exc:
        _fail(str(exc))
    sys.stdout.write(RENDERERS[format_.value](diffs, label))
    if exit_code and any(not d.empty for d in diffs):
        raise typer.Exit(1)


@app.command()
def check(
    stack: Annotated[str, typer.Argument(help="Stack name: reads Pulumi.<stack>.yaml.")],
    set_: SetOption = None,
    traceback: TracebackOption = False,
    config_file: ConfigFileOption = None,
) -> None:
    """Run every policy on STACK's offline plan: one line per violation, exit 1 if there are any.

    Settings come from the stack config key `policy` (e.g. `policy: {gpu_budget: 4}`).
    """
    manifest = _plan(stack, set_ or [], traceback, config_file)
    try:
        project, config = _read(stack, set_ or [], config_file)
        violations = check_manifest(manifest, short_config(config.values, project.name))
    except (StackFileError, PolicyConfigError) as exc:
        _fail(str(exc))
    for violation in violations:
        sys.stdout.write(f"{stack}: {violation.line()}\n")
    sys.stderr.write(f"{stack}: {len(violations)} violation(s) in {len(manifest.resources)} resources\n")
    if violations:
        raise typer.Exit(1)


COMMANDS = {"show", "diff", "check"}


def _with_command(args: list[str]) -> list[str]:
    """A bare stack name means `show STACK`; no arguments at all means `--help`."""
    if not args:
        return ["--help"]
    if not args[0].startswith("-") and args[0] not in COMMANDS:
        return ["show", *args]
    return args


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the CLI, turning a usage error (bad option or value) into one line, exit 2."""
    # Failed RPC futures are re-raised as one PlanError; asyncio's "never retrieved" echoes are noise.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    args = _with_command(list(sys.argv[1:] if argv is None else argv))
    try:
        code = app(args=args, prog_name="python -m infra.plan", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors: unknown option, bad --format value...
        code = getattr(exc, "exit_code", 2)
        hint = " (see --help)" if code == 2 else ""
        message = _one_line(exc.format_message()).replace("Value error, ", "")
        sys.stderr.write(f"error: {message}{hint}\n")
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
