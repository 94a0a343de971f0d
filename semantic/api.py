"""The library surface: what the CLI, the README demo and other packages call.

Every function takes a DSN (libpq URI, or None to use $DEEPCUBE_DSN) and raises only `SemanticError`
subclasses for problems with inputs, cubes or the database.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from semantic import schema
from semantic.database import connect, create_engine, resolve_dsn, sqlalchemy_url
from semantic.loader import load_cube
from semantic.registry import CubeInfo, cube_info


def init(dsn: str | None) -> bool:
    """Create or migrate the schema; True if something changed. Idempotent."""
    with connect(dsn) as conn, conn.begin():
        return schema.ensure_schema(conn)


load = load_cube
"""Load a cube (folder or s3://) in one transaction; the loader's own function, re-exported here."""


def describe(cube_id: str, dsn: str | None) -> CubeInfo:
    """The registry entry of a loaded cube (UnknownCubeError otherwise)."""
    with connect(dsn) as conn:
        return cube_info(conn, cube_id)


def _sample_means(conn: sa.Connection, info: CubeInfo) -> dict[str, float]:
    """Mean of each variable over the first 10k rows: a cheap, plausible threshold for examples."""
    means: dict[str, float] = {}
    for table, variables in (
        (info.observations_table, info.variables),
        (info.cells_table, [v for v in info.static_variables if v.sql_type != "boolean"]),
    ):
        if not variables:
            continue
        columns = ", ".join(f'avg("{v.column}"::float8)' for v in variables)
        sample = f'SELECT * FROM {schema.SCHEMA}."{table}" LIMIT 10000'
        row = conn.execute(sa.text(f"SELECT {columns} FROM ({sample}) AS s")).one()
        means |= {v.column: float(m) for v, m in zip(variables, row, strict=True) if m is not None}
    return means


def write_mapping(cube_id: str, dsn: str | None, out: str | Path) -> list[Path]:
    """Write ontology.ttl, mapping.r2rml.ttl, ontop.properties and queries/*.rq; return their paths."""
    from semantic import mapping, queries

    url = sqlalchemy_url(resolve_dsn(dsn))
    with connect(dsn) as conn:
        info = cube_info(conn, cube_id)
        means = _sample_means(conn, info)
    written = mapping.write_mapping(info, url, Path(out))
    # rewrite the catalogue with data-driven thresholds
    for name, text in queries.example_queries(info, thresholds=means).items():
        (Path(out) / mapping.QUERIES_DIR / name).write_text(text)
    return written


def materialise(cube_id: str, dsn: str | None):
    """The cube's RDF graph (rdflib), materialised from PostGIS with morph-kgc."""
    from semantic import query as query_mod

    info = describe(cube_id, dsn)
    engine = create_engine(dsn)
    try:
        return query_mod.materialise(info, engine.url)
    finally:
        engine.dispose()


def query(
    query_file: str | Path,
    dsn: str | None,
    *,
    cube_id: str,
    fmt: str = "table",
    table_rows: int | None = None,
):
    """Answer a SPARQL/GeoSPARQL query file over the cube; returns text (or a rich Table for 'table')."""
    from semantic import query as query_mod

    if fmt not in query_mod.FORMATS:
        from semantic.errors import QueryError

        raise QueryError(f"unknown --format {fmt!r}: expected one of {', '.join(query_mod.FORMATS)}")
    text = query_mod.read_query(Path(query_file))
    graph = materialise(cube_id, dsn)
    return query_mod.format_result(query_mod.run(graph, text), fmt, table_rows)


def demo(cube: str, dsn: str | None, out: str | Path, *, cube_id: str = "demo") -> str:
    """The README demo in one call: load the cube, write the mapping, answer the first example query."""
    load(cube, dsn, cube_id=cube_id)
    paths = write_mapping(cube_id, dsn, out)
    first = sorted(p for p in paths if p.suffix == ".rq")[0]
    return query(first, dsn, cube_id=cube_id, fmt="csv")
