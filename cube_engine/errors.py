"""One error family for the whole engine.

The CLI catches `CubeEngineError` at the command boundary and prints its message as a single line
(exit code 2), so every message must name the field, file or source at fault on its own.
"""

from __future__ import annotations

from deepcube.config_errors import invalid


class CubeEngineError(Exception):
    """Base class of every error the engine reports to users (as opposed to bugs)."""


class ConfigError(CubeEngineError):
    """The configuration is invalid; the message has the platform's one form
    "Invalid configuration: <msg> for <dotted.path>" (`deepcube.config_errors`)."""

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(invalid(message, path))


class SourceError(CubeEngineError):
    """A source cannot be found, read or used (missing/corrupt file, no overlap, irregular grid...)."""


class GridError(CubeEngineError):
    """Grids cannot be related (unknown CRS, no transformation between two CRSs, irregular axis)."""


class TimeAxisError(CubeEngineError):
    """The time axis is empty, has no data, or conflicts with an existing cube."""


class StoreError(CubeEngineError):
    """The output store cannot be opened, written or published."""


class CubeValidationError(CubeEngineError):
    """An existing cube does not follow the conventions (used by append/rechunk preconditions)."""
