"""One error family for the whole package.

The CLI catches `SemanticError` at its boundary and prints the message as a single line (exit code 2), so
every subclass carries a message that names what is at fault, what was expected and what was found.
Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class SemanticError(Exception):
    """Base class: a problem with the user's input, cube or database, explained in one line."""


class CubeError(SemanticError):
    """The cube cannot be read, or it breaks the cube conventions (grid, dims, CRS, variables)."""


class IrregularGridError(CubeError):
    """A spatial coordinate is not evenly spaced, so cells cannot be computed from integer indices."""


class MissingVariableError(CubeError):
    """A requested variable is not a (time, y, x) data variable of the cube."""


class SelectionError(SemanticError):
    """A --time or --bbox selection is malformed or selects nothing."""


class DatabaseError(SemanticError):
    """The database cannot be reached, refuses our credentials, or rejects a statement."""


class OutdatedSchemaError(DatabaseError):
    """The registry was created by an older version of this package; `semantic init` migrates it."""


class UnknownCubeError(SemanticError):
    """No cube with this id has been loaded into the database."""


class IncompatibleLoadError(SemanticError):
    """A time-range load does not fit the cube already in the database (other grid or variables)."""


class QueryError(SemanticError):
    """The SPARQL query cannot be read, parsed or evaluated."""


class QueryTooLargeError(QueryError):
    """A local query would materialise more triples than the limit allows."""


class EndpointError(QueryError):
    """A SPARQL endpoint cannot be reached, answers with an HTTP error, or sends malformed results."""


class MappingOutputError(SemanticError):
    """The mapping files cannot be written where asked (the folder is not writable, or not a folder)."""
