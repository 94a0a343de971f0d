"""SPARQL results as the user sees them: a terminal table, CSV, SPARQL JSON or GeoJSON.

One formatter for both ways of answering (local materialisation and a remote endpoint), so the same
question prints the same way wherever it was answered. Times keep their lexical form (`...Z`), the form
the mapping publishes and a user can paste back into a query.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager

import rdflib
from rdflib import Literal, URIRef
from rdflib.namespace import XSD
from rdflib.query import Result
from rich.table import Table

from semantic import geosparql
from semantic.errors import QueryError
from semantic.vocabulary import GEO

FORMATS = ("table", "csv", "json", "geojson")
WKT_LITERAL = URIRef(f"{GEO}wktLiteral")
LEXICAL_TYPES = (WKT_LITERAL, XSD.dateTime, XSD.date, XSD.time)


@contextmanager
def lexical_literals() -> Iterator[None]:
    """Parse literals keeping their lexical form. rdflib otherwise rewrites "...Z" times as
    "...+00:00" when parsing data but not when parsing a query, and a triple pattern written with the
    published `Z` form would then match nothing (RDF term equality is lexical)."""
    saved = rdflib.NORMALIZE_LITERALS
    rdflib.NORMALIZE_LITERALS = False
    try:
        yield
    finally:
        rdflib.NORMALIZE_LITERALS = saved


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise QueryError(f"unknown --format {fmt!r}: expected one of {', '.join(FORMATS)}")


def python_value(term):
    """Plain Python value of an RDF term (numbers as numbers; IRIs, WKT and times as their text)."""
    if term is None:
        return None
    if isinstance(term, Literal):
        if term.datatype in LEXICAL_TYPES:
            text = str(term)
            return (
                text[: -len("+00:00")] + "Z"
                if term.datatype == XSD.dateTime and text.endswith("+00:00")
                else text
            )
        value = term.toPython()
        return str(value) if isinstance(value, Literal) else value
    return str(term)


def rows(result: Result) -> tuple[list[str], list[list]]:
    """(column names, rows of Python values) of a SELECT result."""
    names = [str(v) for v in result.vars or []]
    return names, [[python_value(row[v]) for v in names] for row in result]


def format_result(result: Result, fmt: str, table_rows: int | None = None):
    """table -> a rich Table (the first `table_rows` rows, if given); csv/json/geojson -> text.

    Only the terminal table is shortened: the machine formats always carry every row.
    """
    check_format(fmt)
    if result.type == "ASK":
        answer = bool(result.askAnswer)
        return json.dumps({"boolean": answer}) if fmt in ("json", "geojson") else str(answer).lower()
    if result.type in ("CONSTRUCT", "DESCRIBE"):
        return result.graph.serialize(format="turtle")
    names, data = rows(result)
    if fmt == "table":
        shown = data if not table_rows else data[:table_rows]
        caption = None
        if len(shown) < len(data):
            caption = f"first {len(shown)} of {len(data)} rows (--limit 0 or --format csv for all)"
        table = Table(*names, caption=caption)
        for row in shown:
            table.add_row(*("" if v is None else str(v) for v in row))
        return table
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        writer.writerows([[str(v).lower() if isinstance(v, bool) else v for v in row] for row in data])
        return buffer.getvalue()
    if fmt == "json":
        return result.serialize(format="json").decode()
    return geojson(result, names)


def geojson(result: Result, names: list[str]) -> str:
    """A FeatureCollection: the first wktLiteral column is the geometry, the others are properties."""
    import shapely

    features = []
    for row in result:
        geometry, properties = None, {}
        for name in names:
            term = row[name]
            if geometry is None and isinstance(term, Literal) and term.datatype == WKT_LITERAL:
                geometry = json.loads(shapely.to_geojson(geosparql.parse_wkt(str(term))))
            else:
                properties[name] = python_value(term)
        features.append({"type": "Feature", "geometry": geometry, "properties": properties})
    if features and all(f["geometry"] is None for f in features):
        raise QueryError("--format geojson needs a geo:wktLiteral column in the SELECT (e.g. ?wkt)")
    return json.dumps({"type": "FeatureCollection", "features": features}, default=str)
