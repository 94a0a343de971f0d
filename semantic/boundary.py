"""The `semantic` command line's error boundary: a `SemanticError` becomes one line on stderr,
`semantic: error: <message>`, with exit code 2 (the platform's one form, `deepcube.cli`).

Its own module so that every command module (`cli`, `postgis_command`) builds its app on the same
boundary without importing the CLI that registers it.
"""

from __future__ import annotations

from deepcube.cli import Boundary
from semantic.errors import SemanticError

BOUNDARY = Boundary("semantic", SemanticError)
