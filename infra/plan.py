"""Offline plan CLI: `python -m infra.plan STACK [--set KEY=VALUE ...] [--json]`.

Runs the real program under the recording monitor, so merge requests and laptops get a plan
without the Pulumi CLI or cloud credentials. Errors are one line on stderr with exit code 2.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console

from infra.config import ConfigError
from infra.offline import PlanError, evaluate
from infra.plan_view import plan_view
from infra.stack_files import StackFileError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
err = Console(stderr=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one stack config value by dotted key, e.g. swarm.workers.count=5."),
]


@app.callback()
def _commands() -> None:
    """Offline plans of the platform's stacks (no Pulumi CLI, no cloud)."""


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def show(
    stack: Annotated[str, typer.Argument(help="Stack name: reads Pulumi.<stack>.yaml.")],
    set_: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the sorted JSON manifest.")] = False,
    traceback: Annotated[bool, typer.Option("--traceback", help="Show the full error.")] = False,
) -> None:
    """Print what STACK declares: a tree by parent with counts per type, or the JSON manifest."""
    try:
        manifest = evaluate(stack, set_ or [])
    except (StackFileError, ConfigError) as exc:
        if traceback:
            raise
        _fail(str(exc))
    except PlanError as exc:
        if traceback:
            raise
        cause = exc.__cause__
        _fail(str(cause) if isinstance(cause, ConfigError) else str(exc))
    if as_json:
        sys.stdout.write(manifest.to_json())
    else:
        Console().print(plan_view(manifest))


COMMANDS = {"show"}


def main(argv: list[str] | None = None) -> None:
    """Entry point; a bare stack name means `show STACK`."""
    # Failed RPC futures are re-raised as one PlanError; asyncio's "never retrieved" echoes are noise.
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-") and args[0] not in COMMANDS:
        args.insert(0, "show")
    app(args=args, prog_name="python -m infra.plan")


if __name__ == "__main__":
    main()
