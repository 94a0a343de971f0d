"""Golden GeoSPARQL queries: answers from the R2RML mapping (morph-kgc + rdflib + shapely) must equal
hand-written PostGIS SQL on the same tables.

Every query goes through the local path users run (`api.answer`: the mapping narrowed to what the query
touches, then materialised); queries are written with the same builders that write the catalogue
(`semantic.queries`) or by hand, and compared row by row. The cube's land cover comes as float32 with
NaN (as mode resampling writes it), so integer matching is tested on the form real cubes have.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from semantic import api, queries, results
from tests.semantic import catalogue_sql
from tests.semantic.conftest import fetch
from tests.semantic.cubes import make_cube

pytestmark = pytest.mark.postgis

CUBE = "golden"
CELLS = f"deepcube.cells_{CUBE}"
OBS = f'deepcube."obs_{CUBE}"'
BBOX = (10.035, 49.915, 10.095, 49.965)  # off grid lines
GRID_BBOX = (10.03, 49.92, 10.07, 49.96)  # exactly on grid lines: touching cells intersect too
TRIANGLE = "POLYGON((10.02 49.88, 10.16 49.88, 10.09 49.99, 10.02 49.88))"
POINT = (10.0731, 49.9377)


@pytest.fixture(scope="module")
def golden(postgis, cubes_dir):
    path = make_cube(
        cubes_dir / "golden.zarr",
        height=16,
        width=21,  # with nan_every=5, an odd width keeps a cell from missing a variable at every time
        times=6,
        variables=("t2m", "precip", "ndvi"),
        nan_every=5,
        chunks=(4, 8, 8),
        land_cover_dtype="float32",
    )
    api.load(path, postgis.dsn, cube_id=CUBE)
    info = api.describe(CUBE, postgis.dsn)
    return info, postgis.dsn


def sparql(dsn: str, text: str) -> list[list]:
    return results.rows(api.answer(text, dsn, cube_id=CUBE))[1]


def cell_id(iri: str) -> int:
    return int(iri.rsplit("/", 1)[1])


def envelope(bbox) -> str:
    return f"ST_MakeEnvelope({bbox[0]}, {bbox[1]}, {bbox[2]}, {bbox[3]}, 4326)"


def close(a, b) -> bool:
    return len(a) == len(b) and all(
        x == pytest.approx(y, rel=1e-9, abs=1e-12) if isinstance(x, float) else x == y
        for ra, rb in zip(a, b, strict=True)
        for x, y in zip(ra, rb, strict=True)
    )


@pytest.mark.parametrize("bbox", [BBOX, GRID_BBOX], ids=["off-grid", "on-grid"])
def test_bbox_intersects_time_and_threshold(golden, engine, bbox):
    info, dsn = golden
    start, end = datetime(2020, 1, 2), datetime(2020, 1, 4)
    text = queries.bbox_time_threshold(info, bbox, start, end, "t2m", 5.0)
    got = sorted((cell_id(c), t, v, w) for c, t, v, w in sparql(dsn, text))
    want = fetch(
        engine,
        f"""
        SELECT c.cell_id, to_char(o.time, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), o.t2m::float8, ST_AsText(c.geom)
        FROM {CELLS} c JOIN {OBS} o USING (cell_id)
        WHERE o.time BETWEEN '2020-01-02' AND '2020-01-04' AND o.t2m > 5.0
          AND ST_Intersects(c.geom, {envelope(bbox)})
        ORDER BY 1, 2""",
    )
    assert len(want) > 10
    assert close(got, want)


def test_cells_within_polygon(golden, engine):
    info, dsn = golden
    got = sorted((cell_id(c), r, k, w) for c, r, k, w in sparql(dsn, queries.cells_within(info, TRIANGLE)))
    want = fetch(
        engine,
        f"""
        SELECT cell_id, "row", col, ST_AsText(geom) FROM {CELLS}
        WHERE ST_Within(geom, ST_GeomFromText('{TRIANGLE}', 4326)) ORDER BY 1""",
    )
    assert len(want) > 10 and got == want


def test_cells_near_a_point_with_distance(golden, engine):
    info, dsn = golden
    got = [(cell_id(c), d) for c, d, _ in sparql(dsn, queries.cells_near(info, *POINT, 0.025))]
    want = fetch(
        engine,
        f"""
        SELECT cell_id, ST_Distance(geom, ST_Point({POINT[0]}, {POINT[1]}, 4326)) AS d FROM {CELLS}
        WHERE ST_Distance(geom, ST_Point({POINT[0]}, {POINT[1]}, 4326)) < 0.025 ORDER BY d, cell_id""",
    )
    assert len(want) > 5
    assert [c for c, _ in got] == [c for c, _ in want]
    assert close(got, want)


def test_time_series_in_the_cell_containing_a_point(golden, engine):
    info, dsn = golden
    got = sparql(dsn, queries.time_series_at(info, *POINT, "ndvi"))
    want = fetch(
        engine,
        f"""
        SELECT to_char(o.time, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), o.ndvi::float8
        FROM {CELLS} c JOIN {OBS} o USING (cell_id)
        WHERE ST_Contains(c.geom, ST_Point({POINT[0]}, {POINT[1]}, 4326))
          AND o.ndvi IS NOT NULL ORDER BY 1""",
    )
    assert len(want) >= 4 and close([tuple(r) for r in got], want)


def test_aggregates_per_cell_over_time(golden, engine):
    info, dsn = golden
    got = sorted(
        (cell_id(c), m, lo, hi, n)
        for c, _, m, lo, hi, n in sparql(dsn, queries.mean_per_cell(info, "precip", BBOX))
    )
    want = fetch(
        engine,
        f"""
        SELECT c.cell_id, avg(o.precip), min(o.precip)::float8, max(o.precip)::float8, count(o.precip)
        FROM {CELLS} c JOIN {OBS} o USING (cell_id)
        WHERE ST_Intersects(c.geom, {envelope(BBOX)}) AND o.precip IS NOT NULL
        GROUP BY c.cell_id ORDER BY 1""",
    )
    assert len(want) > 10 and close(got, want)


def test_variables_with_units_and_types(golden, engine):
    info, dsn = golden
    got = sparql(dsn, queries.variables_with_units(info))
    want = fetch(
        engine,
        "SELECT name, units, long_name, static FROM deepcube.cube_variable "
        f"WHERE cube_id = '{CUBE}' ORDER BY name",
    )
    assert [w[1] for w in want] == ["m", "1", "1", "mm", "K"]
    assert [(n, u, label, s) for n, u, label, s in got] == want
    land_cover = fetch(
        engine,
        "SELECT data_type FROM information_schema.columns "
        f"WHERE table_name = 'cells_{CUBE}' AND column_name = 'land_cover'",
    )
    assert land_cover == [("smallint",)]  # float32 classes with NaN, stored as integers


def test_per_variable_counts_and_means_over_the_whole_cube(golden, engine):
    info, dsn = golden
    unions = "\n  UNION\n".join(
        f'  {{ ?subject cv:{v.column} ?value . BIND("{v.name}" AS ?name) }}'
        for v in (*info.variables, *info.static_variables)
    )
    text = (
        query_mod_prefixes()
        + f"""
SELECT ?name ?units (COUNT(?value) AS ?n) (AVG(?value) AS ?mean) WHERE {{
{unions}
  ?var a dc:Variable ; dc:variableName ?name ; dc:unitsOf ?units .
}} GROUP BY ?name ?units ORDER BY ?name"""
    )
    got = sparql(dsn, text)
    want = fetch(
        engine,
        f"""
        SELECT v.name, v.units, s.n, s.mean FROM deepcube.cube_variable v
        JOIN (SELECT 'precip' AS name, count(precip) AS n, avg(precip) AS mean FROM {OBS}
              UNION ALL SELECT 't2m', count(t2m), avg(t2m) FROM {OBS}
              UNION ALL SELECT 'ndvi', count(ndvi), avg(ndvi) FROM {OBS}
              UNION ALL SELECT 'elevation', count(elevation), avg(elevation) FROM {CELLS}
              UNION ALL SELECT 'land_cover', count(land_cover), avg(land_cover)::float8 FROM {CELLS}
        ) s USING (name)
        WHERE v.cube_id = '{CUBE}' ORDER BY v.name""",
    )
    assert want[1][0] == "land_cover" and 0 < want[1][2] < 16 * 21  # a few cells without a class
    assert close([tuple(float(x) if isinstance(x, Decimal) else x for x in r) for r in got], want)


ELEVATION = 75.5


def test_mean_of_a_variable_over_cells_above_an_elevation(golden, engine):
    info, dsn = golden
    got = sparql(dsn, queries.mean_where_static_above(info, "t2m", "elevation", ELEVATION))
    want = fetch(
        engine,
        f"""
        SELECT avg(o.t2m), count(o.t2m), count(DISTINCT c.cell_id)
        FROM {CELLS} c JOIN {OBS} o USING (cell_id)
        WHERE c.elevation > {ELEVATION} AND o.t2m IS NOT NULL""",
    )
    assert want[0][2] > 50 and close([tuple(r) for r in got], want)


def test_cells_of_a_land_cover_class_within_a_polygon(golden, engine):
    info, dsn = golden
    got = [
        (cell_id(c), w)
        for c, w in sparql(dsn, queries.cells_of_class_within(info, "land_cover", 3, TRIANGLE))
    ]
    want = fetch(
        engine,
        f"""
        SELECT cell_id, ST_AsText(geom) FROM {CELLS}
        WHERE land_cover = 3 AND ST_Within(geom, ST_GeomFromText('{TRIANGLE}', 4326)) ORDER BY 1""",
    )
    assert len(want) > 5 and got == want


def test_static_threshold_in_a_polygon_joined_with_observations(golden, engine):
    info, dsn = golden
    text = queries.static_threshold_in_polygon(info, "elevation", ELEVATION, TRIANGLE, "precip", 103.0)
    got = sorted((cell_id(c), e, t, v, w) for c, e, t, v, w in sparql(dsn, text))
    want = fetch(
        engine,
        f"""
        SELECT c.cell_id, c.elevation::float8, to_char(o.time, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               o.precip::float8, ST_AsText(c.geom)
        FROM {CELLS} c JOIN {OBS} o USING (cell_id)
        WHERE c.elevation > {ELEVATION} AND o.precip > 103.0
          AND ST_Within(c.geom, ST_GeomFromText('{TRIANGLE}', 4326))
        ORDER BY 1, 3""",
    )
    assert len(want) > 10 and close(got, want)


def test_cells_without_an_elevation_have_no_elevation_triple(golden, engine):
    _, dsn = golden
    text = (
        query_mod_prefixes()
        + "SELECT ?cell WHERE { ?cell a dc:Cell FILTER NOT EXISTS { ?cell cv:elevation ?e } }"
    )
    got = sorted(cell_id(r[0]) for r in sparql(dsn, text))
    want = [r[0] for r in fetch(engine, f"SELECT cell_id FROM {CELLS} WHERE elevation IS NULL ORDER BY 1")]
    assert len(want) > 5 and got == want


def test_maximum_per_time_step_in_a_polygon(golden, engine):
    _, dsn = golden
    text = (
        query_mod_prefixes()
        + f"""
SELECT ?time (MAX(?v) AS ?max) (COUNT(?v) AS ?n) WHERE {{
  ?obs dc:cell ?cell ; dc:time ?time ; cv:t2m ?v .
  ?cell geo:hasGeometry/geo:asWKT ?wkt .
  FILTER(geof:sfIntersects(?wkt, "{TRIANGLE}"^^geo:wktLiteral))
}} GROUP BY ?time ORDER BY ?time"""
    )
    got = [tuple(r) for r in sparql(dsn, text)]
    want = fetch(
        engine,
        f"""
        SELECT to_char(o.time, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), max(o.t2m)::float8, count(o.t2m)
        FROM {CELLS} c JOIN {OBS} o USING (cell_id)
        WHERE ST_Intersects(c.geom, ST_GeomFromText('{TRIANGLE}', 4326)) GROUP BY 1 ORDER BY 1""",
    )
    assert len(want) == 6 and close(got, want)


def test_missing_values_are_absent_triples(golden, engine):
    _, dsn = golden
    text = (
        query_mod_prefixes()
        + """
SELECT ?cell WHERE {
  ?obs dc:cell ?cell ; dc:time "2020-01-03T00:00:00Z"^^xsd:dateTime .
  FILTER NOT EXISTS { ?obs cv:t2m ?v }
} ORDER BY ?cell"""
    )
    got = sorted(cell_id(r[0]) for r in sparql(dsn, text))
    want = [
        r[0]
        for r in fetch(
            engine, f"SELECT cell_id FROM {OBS} WHERE time = '2020-01-03' AND t2m IS NULL ORDER BY 1"
        )
    ]
    assert len(want) > 5 and got == want


def test_cells_that_contain_a_small_polygon_and_disjoint_counts(golden, engine):
    _, dsn = golden
    small = "POLYGON((10.0412 49.9312, 10.0418 49.9312, 10.0418 49.9318, 10.0412 49.9312))"
    text = (
        query_mod_prefixes()
        + f"""
SELECT (COUNT(?c1) AS ?containing) WHERE {{
  ?c1 a dc:Cell ; geo:hasGeometry/geo:asWKT ?w1 .
  FILTER(geof:sfContains(?w1, "{small}"^^geo:wktLiteral))
}}"""
    )
    disjoint = (
        query_mod_prefixes()
        + f"""
SELECT (COUNT(?c) AS ?n) WHERE {{
  ?c a dc:Cell ; geo:hasGeometry/geo:asWKT ?w .
  FILTER(geof:sfDisjoint(?w, "{TRIANGLE}"^^geo:wktLiteral))
}}"""
    )
    assert (
        sparql(dsn, text)[0][0]
        == fetch(
            engine, f"SELECT count(*) FROM {CELLS} WHERE ST_Contains(geom, ST_GeomFromText('{small}', 4326))"
        )[0][0]
        == 1
    )
    assert (
        sparql(dsn, disjoint)[0][0]
        == fetch(
            engine,
            f"SELECT count(*) FROM {CELLS} WHERE ST_Disjoint(geom, ST_GeomFromText('{TRIANGLE}', 4326))",
        )[0][0]
    )


def test_every_catalogue_query_equals_its_sql(golden, engine, postgis, tmp_path):
    _, dsn = golden
    examples = api.catalogue(CUBE, dsn)
    paths = api.write_mapping(CUBE, postgis.dsn, tmp_path)
    written = {p.name: p.read_text() for p in paths if p.suffix == ".rq"}
    assert written == {name: example.text for name, example in examples.items()}
    assert len(examples) == 9  # with the land-cover class query: the layer is stored as integers
    for name, example in examples.items():
        got = catalogue_sql.comparable(example.builder, sparql(dsn, example.text))
        want = catalogue_sql.ordered(fetch(engine, catalogue_sql.twin(CUBE, example.builder, example.params)))
        assert want, f"{name}: the example selects nothing on this cube"
        assert catalogue_sql.equal(got, want), name


def test_time_filters_written_with_z_or_an_offset_match(golden, engine):
    _, dsn = golden
    rows = []
    for bound in ("2020-01-03T00:00:00Z", "2020-01-03T01:00:00+01:00"):
        text = (
            query_mod_prefixes()
            + f"""
SELECT ?obs WHERE {{ ?obs dc:time ?time ; cv:t2m ?v . FILTER(?time >= "{bound}"^^xsd:dateTime) }}"""
        )
        rows.append(len(sparql(dsn, text)))
    want = fetch(engine, f"SELECT count(t2m) FROM {OBS} WHERE time >= '2020-01-03'")[0][0]
    assert want > 100 and rows == [want, want]


def test_mean_in_a_bbox_and_week_over_cells_above_an_elevation(golden, engine):
    info, dsn = golden
    start, end = datetime(2020, 1, 2), datetime(2020, 1, 5)
    text = queries.mean_where_static_above(info, "precip", "elevation", ELEVATION, BBOX, start, end)
    want = fetch(
        engine,
        f"""
        SELECT avg(o.precip), count(o.precip), count(DISTINCT c.cell_id)
        FROM {CELLS} c JOIN {OBS} o USING (cell_id)
        WHERE c.elevation > {ELEVATION} AND o.precip IS NOT NULL AND ST_Intersects(c.geom, {envelope(BBOX)})
          AND o.time BETWEEN '2020-01-02' AND '2020-01-05'""",
    )
    assert want[0][2] > 5 and close([tuple(r) for r in sparql(dsn, text)], want)


def query_mod_prefixes() -> str:
    from semantic.vocabulary import prefixes, sparql_prefixes

    return sparql_prefixes(prefixes(CUBE))
