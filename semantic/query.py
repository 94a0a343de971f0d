"""`semantic query`: materialise the cube's R2RML from PostGIS with morph-kgc, answer SPARQL locally.

This is the small-cube path for tests and demos; production queries go to Ontop, which reads the same
mapping and rewrites SPARQL to SQL instead of materialising. The graph holds the materialised data plus
the ontology, so unit annotations are queryable here too.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import tempfile
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.query import Result
from rich.table import Table
from sqlalchemy.engine import URL

from semantic import geosparql
from semantic.errors import QueryError
from semantic.mapping import ontology_ttl, r2rml_ttl
from semantic.registry import CubeInfo
from semantic.vocabulary import GEO, prefixes

FORMATS = ("table", "csv", "json", "geojson")
WKT_LITERAL = URIRef(f"{GEO}wktLiteral")


def morph_kgc_config(mapping_path: Path, url: URL) -> str:
    """morph-kgc INI config; `$` is doubled because morph-kgc uses ExtendedInterpolation."""
    db_url = url.render_as_string(hide_password=False).replace("$", "$$")
    return (
        "[CONFIGURATION]\n"
        "output_format=N-TRIPLES\n"
        "number_of_processes=1\n"
        "logging_level=WARNING\n"
        "[CubeSource]\n"
        f"mappings={mapping_path}\n"
        f"db_url={db_url}\n"
    )


def materialise(info: CubeInfo, url: URL) -> Graph:
    """All triples of the cube's mapping, plus the ontology, in one rdflib graph."""
    import morph_kgc

    logging.getLogger("morph_kgc").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="semantic-r2rml-") as tmp:
        mapping_path = Path(tmp) / "mapping.r2rml.ttl"
        mapping_path.write_text(r2rml_ttl(info))
        graph = morph_kgc.materialize(morph_kgc_config(mapping_path, url))
    graph.parse(data=ontology_ttl(info), format="turtle")
    for prefix, namespace in prefixes(info.id).items():
        graph.bind(prefix, namespace, override=True)
    return graph


def run(graph: Graph, text: str) -> Result:
    geosparql.register()
    try:
        return graph.query(text)
    except Exception as exc:
        first = " ".join(str(exc).split())[:300]
        raise QueryError(f"query failed: {type(exc).__name__}: {first}") from exc


def read_query(path: Path) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise QueryError(f"cannot read query file {path}: {exc.strerror}") from exc


def python_value(term):
    """Plain Python value of an RDF term (numbers as numbers, IRIs and WKT as strings)."""
    if term is None:
        return None
    if isinstance(term, Literal):
        if term.datatype == WKT_LITERAL:
            return str(term)
        value = term.toPython()
        return (
            value.isoformat()
            if hasattr(value, "isoformat")
            else value
            if not isinstance(value, Literal)
            else str(value)
        )
    return str(term)


def rows(result: Result) -> tuple[list[str], list[list]]:
    """(column names, rows of Python values) of a SELECT result."""
    names = [str(v) for v in result.vars or []]
    return names, [[python_value(row[v]) for v in names] for row in result]


def format_result(result: Result, fmt: str, table_rows: int | None = None):
    """table -> a rich Table (the first `table_rows` rows, if given); csv/json/geojson -> text.

    Only the terminal table is shortened: the machine formats always carry every row.
    """
    if fmt not in FORMATS:
        raise QueryError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    if result.type == "ASK":
        answer = bool(result.askAnswer)
        return json.dumps({"boolean": answer}) if fmt in ("json", "geojson") else str(answer).lower()
    if result.type == "CONSTRUCT" or result.type == "DESCRIBE":
        return result.serialize(format="turtle").decode()
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
        writer.writerows(data)
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
