"""Row conditions a SPARQL query implies, as plain values, and how FILTER expressions turn into them.

A condition is a conjunction of atoms on one row of the cells or observations table; an empty
conjunction means "every row". Each atom is a superset of what the SPARQL expression it came from
accepts, never narrower: the FILTERs stay in the query and decide exactly, the atoms only keep the
database from sending rows no answer can use. Hence the slack: measures are float4 columns published as
their shortest decimal, so a comparison is widened by a float4 rounding step; a time constant without a
time zone is widened by 14 h (XSD's largest offset); a spatial test keeps every cell whose bounding box
meets the constant geometry's envelope (grown by the distance for geof:distance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rdflib import Literal, URIRef, Variable
from rdflib.namespace import XSD

from semantic.vocabulary import GEOF, UOM

FLOAT4_STEP = 2.0**-23  # relative spacing of float4 values: the widest gap between a value and its decimal
TIME_ZONE_SLACK = timedelta(hours=14)
SMALLEST_EARTH_RADIUS = 6_335_000.0  # metres; below WGS84's smallest radius of curvature (6,335,439)
SPATIAL_TESTS = ("sfIntersects", "sfWithin", "sfContains", "sfEquals", "sfTouches", "sfOverlaps", "sfCrosses")
FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}
INTEGER_TYPES = {
    XSD.integer,
    XSD.int,
    XSD.long,
    XSD.short,
    XSD.byte,
    XSD.nonNegativeInteger,
    XSD.positiveInteger,
    XSD.unsignedInt,
    XSD.unsignedShort,
    XSD.unsignedByte,
    XSD.unsignedLong,
}


@dataclass(frozen=True)
class Envelope:
    """The cell's bounding box meets this lon/lat box."""

    west: float
    south: float
    east: float
    north: float


@dataclass(frozen=True)
class Compare:
    """`column op value`; `exact` False widens the bound by a float4 rounding step."""

    column: str
    op: str
    value: float | int
    exact: bool


@dataclass(frozen=True)
class TimeCompare:
    """`time op value` (UTC), widened by `slack`."""

    op: str
    value: datetime
    slack: timedelta


@dataclass(frozen=True)
class NotNull:
    column: str


@dataclass(frozen=True)
class CellIn:
    """An observation whose cell satisfies these atoms."""

    atoms: frozenset


Atom = Envelope | Compare | TimeCompare | NotNull | CellIn
Conjunction = frozenset  # of Atom; empty: every row


def conjuncts(expr) -> list:
    """The parts of an `&&` chain (rdflib: ConditionalAndExpression with expr and other)."""
    if getattr(expr, "name", None) == "ConditionalAndExpression":
        return [part for item in (expr.expr, *(expr.other or [])) for part in conjuncts(item)]
    return [expr]


def _number(term) -> float | int | None:
    if not isinstance(term, Literal) or term.datatype is None:
        return None
    value = term.toPython()
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    if term.datatype in INTEGER_TYPES and isinstance(value, int):
        return value
    number = float(value)
    return number if math.isfinite(number) else None


def time_compare(op: str, term) -> TimeCompare | None:
    """`time op term` for an xsd:dateTime literal, as UTC; a value without time zone gets the slack."""
    if not isinstance(term, Literal) or term.datatype != XSD.dateTime:
        return None
    value = term.toPython()
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return TimeCompare(op, value, TIME_ZONE_SLACK)
    return TimeCompare(op, value.astimezone(UTC).replace(tzinfo=None), timedelta(0))


def value_compare(column: str, datatype: URIRef | None, op: str, term) -> Compare | None:
    """`column op term` for a numeric literal on a numeric column (integers exact, doubles widened)."""
    number = _number(term)
    if number is None or datatype not in (XSD.integer, XSD.double):
        return None
    exact = datatype == XSD.integer
    if exact and op == "=" and not (isinstance(number, int) and term.datatype in INTEGER_TYPES):
        return None  # "3"^^xsd:integer never equals a decimal or double term
    return Compare(column, op, number, exact)


def relation(expr) -> tuple[Variable, str, object] | None:
    """`?var op constant` from a RelationalExpression written either way round."""
    if getattr(expr, "name", None) != "RelationalExpression" or expr.op not in FLIPPED:
        return None
    left, right = expr.expr, expr.other
    if isinstance(left, Variable) and not isinstance(right, (Variable, type(expr))):
        return left, expr.op, right
    if isinstance(right, Variable) and not isinstance(left, (Variable, type(expr))):
        return right, FLIPPED[expr.op], left
    return None


def _geometry_bounds(term) -> tuple[float, float, float, float] | None:
    from semantic.geosparql import parse_wkt

    if not isinstance(term, Literal):
        return None
    try:
        bounds = parse_wkt(str(term)).bounds
    except Exception:
        return None
    return bounds if all(math.isfinite(b) for b in bounds) else None


def spatial_test(expr) -> tuple[Variable, Envelope] | None:
    """`geof:sfX(?wkt, constant)` (either order; not sfDisjoint): the cell box meets the constant's."""
    if getattr(expr, "name", None) != "Function" or not str(expr.iri).startswith(GEOF):
        return None
    if str(expr.iri)[len(GEOF) :] not in SPATIAL_TESTS or len(expr.expr) != 2:
        return None
    a, b = expr.expr
    var, const = (a, b) if isinstance(a, Variable) else (b, a)
    bounds = _geometry_bounds(const) if isinstance(var, Variable) else None
    return (var, Envelope(*bounds)) if bounds else None


def distance_call(expr) -> tuple[Variable, tuple[float, float, float, float], URIRef | None] | None:
    """`geof:distance(?wkt, constant[, unit])`: the variable, the constant's bounds and the unit."""
    if getattr(expr, "name", None) != "Function" or str(expr.iri) != f"{GEOF}distance":
        return None
    args = list(expr.expr)
    if len(args) not in (2, 3):
        return None
    unit = args[2] if len(args) == 3 else None
    var, const = (args[0], args[1]) if isinstance(args[0], Variable) else (args[1], args[0])
    bounds = _geometry_bounds(const) if isinstance(var, Variable) else None
    return (var, bounds, unit) if bounds else None


def within_distance(bounds, unit, op: str, limit) -> Envelope | None:
    """The box holding every cell closer than `limit` (in `unit`) to a geometry with these bounds."""
    radius = _number(limit)
    if op not in ("<", "<=") or radius is None or radius < 0:
        return None
    west, south, east, north = bounds
    if unit is None or str(unit) == f"{UOM}degree":
        return Envelope(west - radius, south - radius, east + radius, north + radius)
    if str(unit) not in (f"{UOM}metre", f"{UOM}meter"):
        return None
    angle = radius / SMALLEST_EARTH_RADIUS  # radians: an upper bound of the arc a geodesic this long spans
    dy = math.degrees(angle) * 1.01
    lat = max(abs(south), abs(north)) + dy
    if lat >= 89.0:
        return None
    dx = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat))))) * 1.01
    return Envelope(west - dx, south - dy, east + dx, north + dy)


def column_compare(column: str, datatype: URIRef | None, op: str, const):
    """`column op const` for the time column or a numeric column; None for anything else."""
    if column == "time" and datatype == XSD.dateTime:
        return time_compare(op, const)
    return value_compare(column, datatype, op, const)


def constant_atoms(column: str, datatype: URIRef | None, const: Literal) -> set:
    """A triple pattern with a constant object: the column equals it (where that can be said)."""
    atom = column_compare(column, datatype, "=", const)
    return {atom} if atom is not None else set()


def _spatial(envelope):
    """An atom maker for a geometry's WKT column (None for other columns or no envelope)."""
    return lambda column, datatype: envelope if envelope is not None and column == "wkt" else None


def _inline_distance(expr):
    """`geof:distance(...) < k` written inside the FILTER (no BIND)."""
    if getattr(expr, "name", None) != "RelationalExpression" or expr.op not in FLIPPED:
        return None
    for call, op, limit in ((expr.expr, expr.op, expr.other), (expr.other, FLIPPED[expr.op], expr.expr)):
        found = distance_call(call)
        if found is not None:
            return found, op, limit
    return None


def atom_makers(expr, distances: dict) -> list:
    """(variable, maker) pairs for one FILTER conjunct. A maker turns the map column bound to the
    variable (name, datatype) into an atom, or None when the expression says nothing about it.
    `distances` maps BIND variables to their geof:distance calls (see `distance_call`)."""
    found = spatial_test(expr)
    if found is not None:
        return [(found[0], _spatial(found[1]))]
    rel = relation(expr)
    if rel is None:
        inline = _inline_distance(expr)
        if inline is None:
            return []
        (wkt_var, bounds, unit), op, limit = inline
        return [(wkt_var, _spatial(within_distance(bounds, unit, op, limit)))]
    var, op, const = rel
    if var in distances:
        wkt_var, bounds, unit = distances[var]
        return [(wkt_var, _spatial(within_distance(bounds, unit, op, const)))]
    return [(var, lambda column, datatype: column_compare(column, datatype, op, const))]
