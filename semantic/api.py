"""The library surface: what the CLI, the README demo and other packages call.

Every function takes a DSN (libpq URI, or None to use $DEEPCUBE_DSN) and raises only `SemanticError`
subclasses for problems with inputs, cubes or the database.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from semantic import dtypes, schema
from semantic.database import connect, resolve_dsn, sqlalchemy_url
from semantic.errors import QueryError
from semantic.registry import CubeInfo, cube_info

if TYPE_CHECKING:  # the loader brings xarray and Zarr: imported on use (see `load`)
    from semantic.load_report import LoadReport


def init(dsn: str | None) -> bool:
    """Create or migrate the schema; True if something changed. Idempotent."""
    with connect(dsn) as conn, conn.begin():
        return schema.ensure_schema(conn)


def load(uri: str, dsn: str | None, **options: Any) -> LoadReport:
    """Load a cube (folder or s3://) in one transaction: `semantic.loader.load_cube`, imported on use
    (it brings xarray and Zarr, which answering a query does not need). Returns its LoadReport.

    `options` are load_cube's keywords: cube_id, variables, time, bbox, progress and
    storage_options (the engine's: endpoint_url, key, secret...; without them s3fs reads the AWS_*
    environment variables)."""
    from semantic.loader import load_cube

    return load_cube(uri, dsn, **options)


def describe(cube_id: str, dsn: str | None) -> CubeInfo:
    """The registry entry of a loaded cube (UnknownCubeError otherwise)."""
    with connect(dsn) as conn:
        return cube_info(conn, cube_id)


def _area_cells(info: CubeInfo) -> tuple[str, dict[str, float]]:
    """SQL selecting the cell ids in the examples' area of interest, and its parameters."""
    from semantic.queries import area_of_interest

    west, south, east, north = area_of_interest(info)
    sql = (
        f'SELECT cell_id FROM {schema.SCHEMA}."{info.cells_table}" '
        "WHERE geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
    )
    return sql, {"w": west, "s": south, "e": east, "n": north}


def _typical_values(conn: sa.Connection, info: CubeInfo) -> dict[str, float]:
    """Mean of each variable over the examples' area of interest: thresholds that split their answers."""
    cells, params = _area_cells(info)
    means: dict[str, float] = {}
    for table, variables in (
        (info.observations_table, info.variables),
        (info.cells_table, [v for v in info.static_variables if v.sql_type != "boolean"]),
    ):
        if not variables:
            continue
        columns = ", ".join(f'avg("{v.column}"::float8)' for v in variables)
        row = conn.execute(
            sa.text(f'SELECT {columns} FROM {schema.SCHEMA}."{table}" WHERE cell_id IN ({cells})'), params
        ).one()
        means |= {v.column: float(m) for v, m in zip(variables, row, strict=True) if m is not None}
    return means


def _frequent_classes(conn: sa.Connection, info: CubeInfo) -> dict[str, int]:
    """The most frequent value of each integer static layer in the examples' area of interest."""
    cells, params = _area_cells(info)
    classes: dict[str, int] = {}
    for v in info.static_variables:
        if dtypes.by_sql(v.sql_type) not in dtypes.INTEGER_TYPES:
            continue
        value = conn.execute(
            sa.text(
                f'SELECT "{v.column}" FROM {schema.SCHEMA}."{info.cells_table}" '
                f'WHERE "{v.column}" IS NOT NULL AND cell_id IN ({cells}) '
                "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
            ),
            params,
        ).scalar()
        if value is not None:
            classes[v.column] = int(value)
    return classes


def catalogue(cube_id: str, dsn: str | None) -> dict:
    """The example queries `write_mapping` writes (name -> `semantic.queries.Example`), with thresholds
    and classes typical of the examples' area of interest."""
    from semantic.queries import example_queries

    with connect(dsn) as conn:
        info = cube_info(conn, cube_id)
        return example_queries(info, _typical_values(conn, info), _frequent_classes(conn, info))


def write_mapping(cube_id: str, dsn: str | None, out: str | Path) -> list[Path]:
    """Write ontology.ttl, mapping.r2rml.ttl, ontop.properties and queries/*.rq; return their paths."""
    from semantic import mapping

    url = sqlalchemy_url(resolve_dsn(dsn))
    with connect(dsn) as conn:
        info = cube_info(conn, cube_id)
        means = _typical_values(conn, info)
        classes = _frequent_classes(conn, info)
    return mapping.write_mapping(info, url, Path(out), thresholds=means, classes=classes)


def materialise(cube_id: str, dsn: str | None):
    """The whole cube's RDF graph (rdflib) from the published mapping: for small cubes and tests."""
    from semantic import query as local
    from semantic.r2rml import cube_maps

    info = describe(cube_id, dsn)
    return local.materialise(info, sqlalchemy_url(resolve_dsn(dsn)), cube_maps(info))


def answer(
    text: str,
    dsn: str | None,
    *,
    cube_id: str,
    source: str = "the query",
    bbox: str | None = None,
    time: str | None = None,
    variables: list[str] | None = None,
    max_triples: int | None = None,
    explain: bool = False,
):
    """Answer SPARQL text locally over the part of the cube it touches (see `semantic.query`).

    Returns an rdflib Result, or with `explain` the plan as text (nothing materialised). The query is
    parsed, and --bbox/--time checked, before the database is touched.
    """
    from semantic import query as local
    from semantic.subset import SubsetRequest

    parsed = local.parse(text, source, cube_id)
    request = SubsetRequest.parse(bbox, time, variables)
    limit = local.DEFAULT_MAX_TRIPLES if max_triples is None else max_triples
    with connect(dsn) as conn:
        info = cube_info(conn, cube_id)
        plan = local.plan(conn, info, parsed, request.resolve(info))
    if explain:
        return plan.describe()
    local.check_size(plan, info, limit)
    return local.answer(info, sqlalchemy_url(resolve_dsn(dsn)), plan, parsed, limit)


def query(
    query_file: str | Path,
    dsn: str | None,
    *,
    cube_id: str | None = None,
    endpoint: str | None = None,
    fmt: str = "table",
    table_rows: int | None = None,
    bbox: str | None = None,
    time: str | None = None,
    variables: list[str] | None = None,
    max_triples: int | None = None,
    explain: bool = False,
):
    """Answer a SPARQL/GeoSPARQL query file locally (`cube_id`) or at a SPARQL endpoint (`endpoint`).

    Returns text, or a rich Table for 'table'.
    """
    from semantic import endpoint as remote
    from semantic import query as local
    from semantic.results import check_format, format_result

    check_format(fmt)
    if endpoint is None and cube_id is None:
        raise QueryError("no cube to ask: give --cube-id ID to answer locally, or --endpoint URL")
    if endpoint is not None:
        if bbox or time or variables or explain or max_triples is not None:
            raise QueryError(
                "--bbox, --time, --variables, --max-triples and --explain shape a local answer: "
                "with --endpoint the endpoint answers the query as written"
            )
        remote.check_url(endpoint)
    text = local.read_query(Path(query_file))
    if endpoint is not None:
        parsed = local.parse(text, str(query_file), cube_id)
        return format_result(remote.ask(endpoint, text, parsed.algebra.name), fmt, table_rows)
    result = answer(
        text,
        dsn,
        cube_id=cube_id,
        source=str(query_file),
        bbox=bbox,
        time=time,
        variables=variables,
        max_triples=max_triples,
        explain=explain,
    )
    return result if explain else format_result(result, fmt, table_rows)


def demo(cube: str, dsn: str | None, out: str | Path, *, cube_id: str = "demo") -> str:
    """The README demo in one call: load the cube, write the mapping, answer the first example query."""
    load(cube, dsn, cube_id=cube_id)
    paths = write_mapping(cube_id, dsn, out)
    first = sorted(p for p in paths if p.suffix == ".rq")[0]
    return query(first, dsn, cube_id=cube_id, fmt="csv")
