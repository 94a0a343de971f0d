"""The one command-line boundary of the platform's tools (`cube-engine`, `semantic`, `infra.plan`).

A person running a tool with bad input needs one line saying what to fix, not a traceback and not
a usage panel; a script needs to tell bad input from success by the exit code. So every tool
says it the same way, written once here:

- a project error (the tool's own error classes: bad input, not a bug) is ONE line on stderr,
  `<prog>: error: <message>`, printed literally (no markup: `^[a-z]` and `[red]` stay as they
  are), its whitespace collapsed, exit code 2;
- a usage mistake (unknown option, missing argument, unknown command) is the same line with where
  to look, `<prog>: error: <click's message> (see `<command path> --help`)`, exit code 2;
- Ctrl-C is `<prog>: interrupted`, exit code 130;
- `--traceback`, a global option given before the command (or `DEEPCUBE_TRACEBACK=1`), shows the
  Python traceback of a project error instead of its line;
- anything else that escapes is a bug and keeps its traceback.

`CliApp` is a Typer whose commands all run inside its `Boundary`; a command that must end with
another exit code on its own terms (a check that found problems: 1) uses `Boundary.fail`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar

import typer

try:  # typer >= 0.20 ships its own copy of click, whose exceptions it raises
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_errors

T = TypeVar("T")
_NO_ARGS = getattr(click_errors, "NoArgsIsHelpError", ())  # click >= 8.2: the bare command's help

TRACEBACK_ENV = "DEEPCUBE_TRACEBACK"
BAD_INPUT = 2
INTERRUPTED = 130


def one_line(message: object) -> str:
    """The message on one line: any run of whitespace, newlines included, becomes one space."""
    return " ".join(str(message).split())


def error_line(prog: str, message: object) -> str:
    """`<prog>: error: <message>` on one line (no newline at the end)."""
    return f"{prog}: error: {one_line(message)}"


class Boundary:
    """Where a tool's project errors become one line on stderr (see the module docstring)."""

    def __init__(self, prog: str, *errors: type[BaseException]):
        self.prog = prog
        self.errors = errors
        self.show_traceback = False

    def fail(self, message: object, code: int = BAD_INPUT) -> NoReturn:
        """Print the error line and end the command with `code`."""
        sys.stderr.write(error_line(self.prog, message) + "\n")
        sys.stderr.flush()
        raise typer.Exit(code)

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run a block: a project error becomes its line and exit code 2 (or its traceback with
        `--traceback`), Ctrl-C becomes `<prog>: interrupted` and exit code 130."""
        try:
            yield
        except KeyboardInterrupt:
            sys.stderr.write(f"{self.prog}: interrupted\n")
            raise typer.Exit(INTERRUPTED) from None
        except self.errors as exc:
            if self.show_traceback:
                raise
            self.fail(exc)

    def wrap(self, command: Callable[..., T]) -> Callable[..., T]:
        """`command` inside the boundary (typer reads the signature through `functools.wraps`)."""

        @functools.wraps(command)
        def bounded(*args: Any, **kwargs: Any) -> T:
            with self.guard():
                return command(*args, **kwargs)

        return bounded


TracebackOption = Annotated[
    bool,
    typer.Option(
        "--traceback",
        envvar=TRACEBACK_ENV,
        help="Show the Python traceback of an error instead of its one line.",
    ),
]


class CliApp(typer.Typer):
    """A Typer app whose every command runs inside `boundary`, with the global `--traceback` and
    one-line usage errors (see the module docstring). Sub-apps added with `add_typer` are built
    with `nested=True`: their commands share the boundary, the option stays the root's."""

    def __init__(self, boundary: Boundary, *, nested: bool = False, **kwargs: Any):
        kwargs.setdefault("add_completion", False)
        kwargs.setdefault("pretty_exceptions_enable", False)
        super().__init__(**kwargs)
        self.boundary = boundary
        if not nested:

            def options(traceback: TracebackOption = False) -> None:
                boundary.show_traceback = traceback

            self.callback()(options)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
        register = super().command(*args, **kwargs)

        def decorator(func: Callable[..., T]) -> Callable[..., T]:
            return register(self.boundary.wrap(func))

        return decorator

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Run the command line and exit: usage mistakes and errors raised while the options are
        read (before any command runs) get the same one line as the commands' errors."""
        command = typer.main.get_command(self)
        try:
            with self.boundary.guard():
                code = command.main(*args, standalone_mode=False, **kwargs)
        except _NO_ARGS as exc:  # the bare command: its help, as click prints it
            exc.show()
            code = exc.exit_code
        except click_errors.UsageError as exc:
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
            message = exc.format_message().replace("Value error, ", "")  # typer's wording of a bad choice
            sys.stderr.write(error_line(self.boundary.prog, message) + where + "\n")
            code = BAD_INPUT
        except typer.Abort:
            sys.stderr.write(f"{self.boundary.prog}: interrupted\n")
            code = INTERRUPTED
        except typer.Exit as exc:  # raised by the boundary around `main` itself
            code = exc.exit_code
        sys.exit(code if isinstance(code, int) else 0)
