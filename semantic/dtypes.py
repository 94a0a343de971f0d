"""Column types of static (2-D) cell attributes: one table from numpy dtype to SQL, wire and RDF types.

Observation variables are always float4 (the measurements are float32 in the cube and one fixed
record layout keeps the COPY encoder simple). Static layers differ: a land-cover class is an integer
and should stay one (so SPARQL can ask `cv:land_cover 3` and Ontop keeps integer comparisons), a DEM
may be float64. Each static variable therefore keeps its own dtype, chosen here once, so the DDL, the
binary COPY encoder and the R2RML datatype can never disagree.

Cube builders often hand integer layers over as floats: resampling by mode writes land-cover classes
as float32 (NaN where there is no data). Stored as `real` and published as xsd:double, `?cell
cv:land_cover 3` would then never match ("3"^^xsd:integer is not "3.0E0"^^xsd:double). So a float
layer whose every finite value is a whole number is stored as the narrowest integer type holding its
range (`integral_type`), NaN becoming NULL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from semantic.errors import CubeError


@dataclass(frozen=True)
class ColumnType:
    """One SQL column type with how its values travel (big-endian numpy) and are typed in RDF."""

    sql: str  # as stored in the registry and written in the DDL
    wire: str  # numpy dtype of the binary COPY field (PostgreSQL's send format)
    xsd: str  # local name of the XSD datatype in the R2RML object map


REAL = ColumnType("real", ">f4", "double")
DOUBLE = ColumnType("double precision", ">f8", "double")
SMALLINT = ColumnType("smallint", ">i2", "integer")
INTEGER = ColumnType("integer", ">i4", "integer")
BIGINT = ColumnType("bigint", ">i8", "integer")
BOOLEAN = ColumnType("boolean", "u1", "boolean")
INTEGER_TYPES = (SMALLINT, INTEGER, BIGINT)
EXACT_FLOAT64_INTEGERS = 2**53  # beyond this a float64 no longer holds every whole number

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


def integral_type(bands: Iterable[np.ndarray]) -> ColumnType | None:
    """The integer type for a float layer read band by band, or None if it is not integer-valued.

    Integer-valued: at least one finite value, every finite value a whole number, no infinities, and
    the range within what float64 holds exactly. NaN is allowed (it becomes NULL).
    """
    low, high, seen = 0.0, 0.0, False
    for band in bands:
        values = np.asarray(band)
        if values.dtype.kind != "f":
            return None
        finite = values[~np.isnan(values)]
        if finite.size == 0:
            continue
        if not np.all(np.isfinite(finite)) or not np.all(finite == np.trunc(finite)):
            return None
        band_low, band_high = float(finite.min()), float(finite.max())
        low, high = (band_low, band_high) if not seen else (min(low, band_low), max(high, band_high))
        seen = True
    if not seen or max(abs(low), abs(high)) > EXACT_FLOAT64_INTEGERS:
        return None
    for column in INTEGER_TYPES:
        info = np.iinfo(np.dtype(column.wire))
        if info.min <= low and high <= info.max:
            return column
    return None


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
