"""The CLI's error boundary: a `SemanticError` becomes one line on stderr and exit code 2.

Its own module so that every command module (`cli`, `postgis_command`) uses the same boundary
without importing the CLI that registers it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import typer

from semantic.errors import SemanticError

T = TypeVar("T")
options = {"traceback": False}
"""Set by the CLI's `--traceback`: show the full error instead of one line."""


def run(action: Callable[[], T]) -> T:
    """Call the library; a SemanticError becomes one line on stderr and exit code 2."""
    try:
        return action()
    except SemanticError as exc:
        if options["traceback"]:
            raise
        message = " ".join(str(exc).split())
        print(f"semantic: error: {message}", file=sys.stderr)
        raise typer.Exit(2) from None
