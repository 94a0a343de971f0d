"""Column types of static (2-D) cell attributes: one table from numpy dtype to SQL, wire and RDF types.

Observation variables are always float4 (the measurements are float32 in the cube and one fixed
record layout keeps the COPY encoder simple). Static layers differ: a land-cover class is an integer
and should stay one (so SPARQL can ask `cv:land_cover 3` and Ontop keeps integer comparisons), a DEM
may be float64. Each static variable therefore keeps its own dtype, chosen here once, so the DDL, the
binary COPY encoder and the R2RML datatype can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from semantic.errors import CubeError


@dataclass(frozen=True)
class ColumnType:
    """One SQL column type with how its values travel (big-endian numpy) and are typed in RDF."""

    sql: str  # as stored in the registry and written in the DDL
    wire: str  # numpy dtype of the binary COPY field (PostgreSQL's send format)
    xsd: str  # local name of the XSD datatype in the R2RML object map
    nullable_by_nan: bool  # NaN means NULL (floats only)


REAL = ColumnType("real", ">f4", "double", True)
DOUBLE = ColumnType("double precision", ">f8", "double", True)
SMALLINT = ColumnType("smallint", ">i2", "integer", False)
INTEGER = ColumnType("integer", ">i4", "integer", False)
BIGINT = ColumnType("bigint", ">i8", "integer", False)
BOOLEAN = ColumnType("boolean", "u1", "boolean", False)

BY_SQL = {t.sql: t for t in (REAL, DOUBLE, SMALLINT, INTEGER, BIGINT, BOOLEAN)}


def column_type(name: str, dtype: np.dtype) -> ColumnType:
    """The narrowest SQL type holding every value of `dtype`; CubeError for what SQL cannot hold."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return DOUBLE if dtype.itemsize > 4 else REAL
    if dtype.kind == "b":
        return BOOLEAN
    if dtype.kind in "iu":
        bits = dtype.itemsize * 8 + (1 if dtype.kind == "u" else 0)  # unsigned needs one more bit
        if bits <= 16:
            return SMALLINT
        if bits <= 32:
            return INTEGER
        if bits <= 64:
            return BIGINT
    raise CubeError(
        f"static variable {name!r} has dtype {dtype}: expected a float, integer (up to 64-bit signed) "
        "or boolean array"
    )


def by_sql(sql: str) -> ColumnType:
    """The ColumnType of a registry entry (defaults to real for rows written before types existed)."""
    return BY_SQL.get(sql, REAL)


def is_supported(dtype: np.dtype) -> bool:
    """Whether a static layer of this dtype can become a cell column (others are skipped, not fatal)."""
    try:
        column_type("", dtype)
    except CubeError:
        return False
    return True
