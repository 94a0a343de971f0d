"""The narrowed mapping a local query materialises: what the query needs, cut to what the user chose.

Two inputs meet here. `sparql_scope.Needs` says which predicates, classes and rows the query can use
(derived from its algebra, always sound); a `Subset` is what the user asked for on the command line
(`--bbox`, `--time`, `--variables`, the same words as `semantic load`), which changes the question to
"the same query over that part of the cube". Both become WHERE clauses on the published triples maps'
own tables and a shorter list of predicate-object maps; the SQL is then counted before anything is
materialised, so the size is known exactly (rows x triples per row, NULL values excepted) up front.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import sqlalchemy as sa

from semantic import conditions as cond
from semantic import schema
from semantic.cube import parse_bbox, parse_time_range
from semantic.errors import SelectionError
from semantic.grid import window_for_bbox
from semantic.r2rml import Role, TriplesMap
from semantic.registry import CubeInfo
from semantic.sparql_scope import TABLE_OF, Needs

ENVELOPE_MARGIN = 1e-9  # degrees: a box test never loses a cell to the last bit of a coordinate


@dataclass(frozen=True)
class Subset:
    """The part of the cube a local query runs on (None: no limit on that axis)."""

    window: tuple[int, int, int, int] | None = None  # row0, row1, col0, col1 of the grid (half-open)
    time: tuple[datetime, datetime] | None = None  # inclusive, UTC
    columns: frozenset[str] | None = None  # variables (measures and static layers) by column

    @property
    def empty(self) -> bool:
        return self.window is None and self.time is None and self.columns is None


@dataclass(frozen=True)
class SubsetRequest:
    """The command line's words, checked for syntax before any database work."""

    bbox: tuple[float, float, float, float] | None = None
    bbox_text: str | None = None
    time: tuple[np.datetime64, np.datetime64] | None = None
    variables: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, bbox: str | None, time: str | None, variables: Iterable[str] | None) -> SubsetRequest:
        names = tuple(n.strip() for v in (variables or []) for n in v.split(",") if n.strip()) or None
        return cls(parse_bbox(bbox), bbox, parse_time_range(time), names)

    def resolve(self, info: CubeInfo) -> Subset:
        """Grid window, UTC times and columns for this cube; one-line errors for what it lacks."""
        window = None
        if self.bbox is not None:
            r0, r1, c0, c1 = window_for_bbox(info.grid, self.bbox)
            w0, w1, v0, v1 = info.window
            window = (max(r0, w0), min(r1, w1), max(c0, v0), min(c1, v1))
            if window[1] <= window[0] or window[3] <= window[2]:
                raise SelectionError(f"--bbox {self.bbox_text} does not intersect cube {info.id!r}")
        time = None
        if self.time is not None:
            time = tuple(t.astype("datetime64[us]").item() for t in self.time)
        columns = None
        if self.variables is not None:
            every = {v.name: v.column for v in (*info.variables, *info.static_variables)}
            unknown = [n for n in self.variables if n not in every]
            if unknown:
                raise SelectionError(
                    f"--variables {', '.join(map(repr, unknown))} not in cube {info.id!r}: "
                    f"it has {', '.join(sorted(every))}"
                )
            columns = frozenset(every[n] for n in self.variables)
        return Subset(window, time, columns)  # type: ignore[arg-type]


def _number(value: float | int) -> str:
    return repr(int(value)) if isinstance(value, int) else repr(float(value))


def _compare_sql(column: str, atom: cond.Compare) -> str:
    if atom.exact:
        return f'"{column}" {atom.op} {_number(atom.value)}'
    slack = abs(float(atom.value)) * cond.FLOAT4_STEP + 1e-30
    low, high = _number(atom.value - slack), _number(atom.value + slack)
    if atom.op in (">", ">="):
        return f'"{column}" >= {low}'
    if atom.op in ("<", "<="):
        return f'"{column}" <= {high}'
    return f'"{column}" BETWEEN {low} AND {high}'


def _stamp(t: datetime) -> str:
    return f"TIMESTAMP '{t.isoformat(sep=' ')}'"


def _time_sql(atom: cond.TimeCompare) -> str:
    low, high = atom.value - atom.slack, atom.value + atom.slack
    if atom.op in (">", ">="):
        return f"time >= {_stamp(low)}"
    if atom.op in ("<", "<="):
        return f"time <= {_stamp(high)}"
    return f"time BETWEEN {_stamp(low)} AND {_stamp(high)}"


class SqlWriter:
    """Renders row conditions as SQL on the cube's own tables."""

    def __init__(self, info: CubeInfo) -> None:
        self.cells = f'{schema.SCHEMA}."{info.cells_table}"'
        self.cell_columns = {"row", "col", *(v.column for v in info.static_variables)}
        self.obs_columns = {v.column for v in info.variables}

    def atom(self, atom, table: str) -> str | None:
        """One atom as SQL, or None where it adds nothing (a column that is never NULL)."""
        columns = self.cell_columns if table == "cells" else self.obs_columns
        if isinstance(atom, cond.Envelope) and table == "cells":
            w, s, e, n = (
                atom.west - ENVELOPE_MARGIN,
                atom.south - ENVELOPE_MARGIN,
                atom.east + ENVELOPE_MARGIN,
                atom.north + ENVELOPE_MARGIN,
            )
            if not all(math.isfinite(v) for v in (w, s, e, n)):
                return None
            return f"geom && ST_MakeEnvelope({w!r}, {s!r}, {e!r}, {n!r}, 4326)"
        if isinstance(atom, cond.Compare) and atom.column in columns:
            return _compare_sql(atom.column, atom)
        if isinstance(atom, cond.NotNull) and atom.column in columns - {"row", "col"}:
            return f'"{atom.column}" IS NOT NULL'
        if isinstance(atom, cond.TimeCompare) and table == "observations":
            return _time_sql(atom)
        if isinstance(atom, cond.CellIn) and table == "observations":
            inner = self.conjunction(atom.atoms, "cells")
            return f"cell_id IN (SELECT cell_id FROM {self.cells} WHERE {inner})" if inner else None
        return None

    def conjunction(self, atoms: Iterable, table: str) -> str | None:
        parts = sorted({sql for sql in (self.atom(a, table) for a in atoms) if sql is not None})
        return " AND ".join(parts) if parts else None

    def disjunction(self, conjunctions: Iterable[frozenset], table: str) -> str | None:
        """OR of the occurrences' conditions; None if any of them lets every row through."""
        rendered = set()
        for conjunction in _minimal(conjunctions):
            sql = self.conjunction(conjunction, table)
            if sql is None:
                return None
            rendered.add(sql)
        if len(rendered) == 1:
            return rendered.pop()
        return " OR ".join(f"({sql})" for sql in sorted(rendered))

    def subset(self, subset: Subset, table: str) -> list[str]:
        where = []
        if subset.window is not None:
            r0, r1, c0, c1 = subset.window
            window = f'"row" BETWEEN {r0} AND {r1 - 1} AND col BETWEEN {c0} AND {c1 - 1}'
            where.append(
                window
                if table == "cells"
                else f"cell_id IN (SELECT cell_id FROM {self.cells} WHERE {window})"
            )
        if subset.time is not None and table == "observations":
            start, end = subset.time
            where.append(f"time BETWEEN {_stamp(start)} AND {_stamp(end)}")
        return where


def _minimal(conjunctions: Iterable[frozenset]) -> list[frozenset]:
    """Drop every conjunction that has all the atoms of another: (A) OR (A AND B) is A."""
    unique = sorted(set(conjunctions), key=len)
    kept: list[frozenset] = []
    for c in unique:
        if not any(k <= c for k in kept):
            kept.append(c)
    return kept


def narrow(info: CubeInfo, maps: list[TriplesMap], needs: Needs, subset: Subset) -> list[TriplesMap]:
    """The maps cut to what the query needs within the subset; maps it cannot use are left out."""
    writer = SqlWriter(info)
    variable_columns = {v.column for v in (*info.variables, *info.static_variables)}
    narrowed = []
    for m in maps:
        if m.name not in needs.rows:
            continue
        poms = [p for p in m.poms if needs.predicates is None or p.predicate in needs.predicates]
        if subset.columns is not None and m.role in (Role.CELL, Role.OBSERVATION):
            poms = [p for p in poms if p.object.column not in variable_columns - subset.columns]
        classes = [c for c in m.classes if needs.classes is None or c in needs.classes]
        if not poms and not classes:
            continue
        where = list(m.where)
        table = TABLE_OF.get(m.role)
        if table is not None:
            rows = writer.disjunction(needs.rows[m.name], table)
            where += ([f"({rows})" if " OR " in rows else rows] if rows else []) + writer.subset(
                subset, table
            )
        narrowed.append(replace(m, poms=tuple(poms), classes=tuple(classes), where=tuple(where)))
    return narrowed


def count_triples(conn: sa.Connection, maps: list[TriplesMap]) -> dict[str, int]:
    """Exactly how many triples each map produces: rows per class, non-NULL values per column map."""
    counts = {}
    for m in maps:
        value_columns = [p.object.column for p in m.poms if p.object.column is not None]
        selected = ", ".join(["count(*)", *(f'count(t."{c}")' for c in value_columns)])
        row = conn.execute(sa.text(f"SELECT {selected} FROM ({m.sql()}) AS t")).one()
        rows, values = int(row[0]), dict(zip(value_columns, (int(v) for v in row[1:]), strict=True))
        per_pom = sum(values[p.object.column] if p.object.column is not None else rows for p in m.poms)
        counts[m.name] = rows * len(m.classes) + per_pom
    return counts
