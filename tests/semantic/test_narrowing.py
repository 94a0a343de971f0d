"""A local answer materialises only what its query touches, and that changes no answer.

Each query below runs twice over the same cube: through the local path (`api.answer`: narrowed maps)
and over the whole cube's graph, and the answers must be equal. The queries are the shapes that break
an unsound narrowing: OPTIONAL with and without filters on its variables, MINUS, (NOT) EXISTS, UNION
under a filter, a sub-SELECT with LIMIT under an outer filter, HAVING, variable predicates, paths,
VALUES, times written with offsets or without a time zone, distances in metres.
"""

from __future__ import annotations

import pytest

from semantic import api, results
from semantic import query as local
from semantic.vocabulary import prefixes, sparql_prefixes
from tests.semantic.conftest import fetch, scalar
from tests.semantic.cubes import make_cube

pytestmark = pytest.mark.postgis

CUBE = "narrow"
CELLS, OBS = f"deepcube.cells_{CUBE}", f"deepcube.obs_{CUBE}"
BOX = "POLYGON((10.035 49.915, 10.095 49.915, 10.095 49.965, 10.035 49.965, 10.035 49.915))"
CELL = f"https://w3id.org/deepcube/cube/{CUBE}/cell"


@pytest.fixture(scope="module")
def cube(postgis, cubes_dir):
    path = make_cube(
        cubes_dir / "narrow.zarr",
        height=16,
        width=21,
        times=6,
        variables=("t2m", "precip"),
        nan_every=5,
        chunks=(4, 8, 8),
        land_cover_dtype="float32",
    )
    api.load(path, postgis.dsn, cube_id=CUBE)
    return postgis.dsn, api.materialise(CUBE, postgis.dsn)


def q(body: str) -> str:
    return sparql_prefixes(prefixes(CUBE)) + body


def both(cube, text: str) -> tuple[list, list]:
    """(narrowed answer, whole-cube answer) as sorted rows of plain values."""
    dsn, whole = cube
    narrowed = results.rows(api.answer(text, dsn, cube_id=CUBE))[1]
    full = results.rows(local.evaluate(whole, local.parse(text, "test", CUBE)))[1]
    key = lambda row: [str(v) for v in row]  # noqa: E731
    return sorted(narrowed, key=key), sorted(full, key=key)


QUERIES = {
    "optional with an inner filter": """
SELECT ?obs ?v WHERE {
  ?obs dc:cell ?cell ; dc:time ?t .
  FILTER(?t >= "2020-01-05T00:00:00Z"^^xsd:dateTime)
  OPTIONAL { ?obs cv:t2m ?v FILTER(?v > 104) }
}""",
    "filter on an optional variable": """
SELECT ?obs ?p WHERE {
  ?obs dc:time ?t . FILTER(?t = "2020-01-02T00:00:00Z"^^xsd:dateTime)
  OPTIONAL { ?obs cv:precip ?p }
  FILTER(!BOUND(?p) || ?p > 103.5)
}""",
    "minus": f"""
SELECT ?cell WHERE {{
  ?cell geo:hasGeometry/geo:asWKT ?w . FILTER(geof:sfIntersects(?w, "{BOX}"^^geo:wktLiteral))
  MINUS {{ ?cell cv:land_cover 2 }}
}}""",
    "not exists under a time pattern": """
SELECT ?cell WHERE {
  ?obs dc:cell ?cell ; dc:time "2020-01-03T00:00:00Z"^^xsd:dateTime .
  FILTER NOT EXISTS { ?obs cv:t2m ?v }
}""",
    "exists with its own filter": """
SELECT ?obs WHERE {
  ?obs dc:time ?t ; cv:t2m ?v . FILTER(?t <= "2020-01-02T00:00:00Z"^^xsd:dateTime && ?v < 3)
  FILTER EXISTS { ?obs cv:precip ?p FILTER(?p > 102) }
}""",
    "union under a filter": """
SELECT ?o ?v WHERE {
  { ?o cv:t2m ?v } UNION { ?o cv:precip ?v }
  ?o dc:time ?t .
  FILTER(?v > 104.5 && ?t <= "2020-01-03T00:00:00Z"^^xsd:dateTime)
}""",
    "sub-select with limit under an outer filter": f"""
SELECT ?cell WHERE {{
  {{ SELECT ?cell WHERE {{ ?cell a dc:Cell ; dc:row ?r }} ORDER BY ?r ?cell LIMIT 90 }}
  ?cell geo:hasGeometry/geo:asWKT ?w . FILTER(geof:sfIntersects(?w, "{BOX}"^^geo:wktLiteral))
}}""",
    "having": f"""
SELECT ?cell (COUNT(?v) AS ?n) WHERE {{
  ?obs dc:cell ?cell ; cv:t2m ?v .
  ?cell geo:hasGeometry/geo:asWKT ?w . FILTER(geof:sfWithin(?w, "{BOX}"^^geo:wktLiteral))
  FILTER(?v > 2.5)
}} GROUP BY ?cell HAVING (COUNT(?v) > 3)""",
    "variable predicate": f"""
SELECT ?p ?o WHERE {{ <{CELL}/45> ?p ?o }}""",
    "two observations of one cell compared": f"""
SELECT ?c ?v1 ?v2 WHERE {{
  ?o1 dc:cell ?c ; dc:time ?t1 ; cv:t2m ?v1 .
  ?o2 dc:cell ?c ; dc:time ?t2 ; cv:t2m ?v2 .
  ?c geo:hasGeometry/geo:asWKT ?w . FILTER(geof:sfIntersects(?w, "{BOX}"^^geo:wktLiteral))
  FILTER(?t1 = "2020-01-02T00:00:00Z"^^xsd:dateTime && ?t2 = "2020-01-04T00:00:00Z"^^xsd:dateTime)
  FILTER(?v2 > ?v1)
}}""",
    "distance in metres": """
SELECT ?cell ?d WHERE {
  ?cell a dc:Cell ; geo:hasGeometry/geo:asWKT ?w .
  BIND(geof:distance(?w, "POINT(10.07 49.94)"^^geo:wktLiteral, uom:metre) AS ?d)
  FILTER(?d < 1500)
}""",
    "inline distance in degrees": """
SELECT ?cell WHERE {
  ?cell geo:hasGeometry/geo:asWKT ?w .
  FILTER(geof:distance(?w, "POINT(10.07 49.94)"^^geo:wktLiteral, uom:degree) <= 0.02)
}""",
    "inverse path and an offset time": """
SELECT ?cell ?obs WHERE {
  ?cell ^dc:cell ?obs . ?obs dc:time ?t .
  FILTER(?t > "2020-01-04T02:00:00+02:00"^^xsd:dateTime)
}""",
    "time without a time zone": """
SELECT ?obs WHERE { ?obs dc:time ?t . FILTER(?t < "2020-01-02T12:00:00"^^xsd:dateTime) }""",
    "alternative path": """
SELECT ?o ?v WHERE {
  ?o (cv:t2m|cv:precip) ?v ; dc:time "2020-01-06T00:00:00Z"^^xsd:dateTime . FILTER(?v < 6)
}""",
    "values": """
SELECT ?o ?v WHERE {
  VALUES ?t { "2020-01-02T00:00:00Z"^^xsd:dateTime "2020-01-05T00:00:00Z"^^xsd:dateTime }
  ?o dc:time ?t ; cv:t2m ?v . FILTER(?v > 3.5)
}""",
    "static class and elevation": """
SELECT ?cell ?e WHERE { ?cell cv:land_cover 3 ; cv:elevation ?e . FILTER(?e < 90) }""",
    "ask": """
ASK {
  ?cell geo:hasGeometry/geo:asWKT ?w .
  FILTER(geof:sfContains(?w, "POINT(10.0731 49.9377)"^^geo:wktLiteral))
}""",
    "ontology and variables": """
SELECT ?p ?label WHERE { ?p rdfs:domain dc:Cell ; rdfs:label ?label }""",
}


@pytest.mark.parametrize("name", list(QUERIES))
def test_narrowed_answers_equal_whole_cube_answers(cube, name):
    text = q(QUERIES[name])
    if name == "ask":
        dsn, whole = cube
        narrowed = api.answer(text, dsn, cube_id=CUBE).askAnswer
        assert narrowed is True and local.evaluate(whole, local.parse(text, "t", CUBE)).askAnswer is True
        return
    narrowed, full = both(cube, text)
    assert full, "the query should select something on this cube"
    assert narrowed == full


def test_a_bbox_time_threshold_question_materialises_only_its_rows(cube, engine):
    dsn, _ = cube
    text = q(
        f"""
SELECT ?cell ?time ?v ?w WHERE {{
  ?obs dc:cell ?cell ; dc:time ?time ; cv:t2m ?v .
  ?cell geo:hasGeometry/geo:asWKT ?w .
  FILTER(?time >= "2020-01-02T00:00:00Z"^^xsd:dateTime && ?time <= "2020-01-04T00:00:00Z"^^xsd:dateTime)
  FILTER(?v > 4.01)
  FILTER(geof:sfIntersects(?w, "{BOX}"^^geo:wktLiteral))
}}"""
    )
    plan = api.answer(text, dsn, cube_id=CUBE, explain=True)
    box = "ST_MakeEnvelope(10.035, 49.915, 10.095, 49.965, 4326)"
    cells = scalar(engine, f"SELECT count(*) FROM {CELLS} WHERE geom && {box}")
    observations = scalar(
        engine,
        f"SELECT count(*) FROM {OBS} WHERE time BETWEEN '2020-01-02' AND '2020-01-04' AND t2m > 4.01 "
        f"AND cell_id IN (SELECT cell_id FROM {CELLS} WHERE geom && {box})",
    )
    whole = scalar(engine, f"SELECT count(*) FROM {OBS}") * 6
    expected = 2 * cells + 3 * observations  # hasGeometry + asWKT per cell; cell, time, t2m per observation
    assert observations > 0 and expected * 10 < whole
    assert plan.splitlines()[0] == f"{expected:,} triples to materialise"
    answer = results.rows(api.answer(text, dsn, cube_id=CUBE))[1]
    sql_rows = scalar(
        engine,
        f"SELECT count(*) FROM {OBS} o JOIN {CELLS} c USING (cell_id) WHERE ST_Intersects(c.geom, {box}) "
        "AND o.time BETWEEN '2020-01-02' AND '2020-01-04' AND o.t2m > 4.01",
    )
    assert len(answer) == sql_rows > 0


def test_user_subset_narrows_a_whole_cube_question_to_that_part(cube, engine):
    dsn, _ = cube
    text = q(
        """
SELECT ?name (COUNT(?v) AS ?n) (AVG(?v) AS ?mean) WHERE {
  { ?s cv:t2m ?v . BIND("t2m" AS ?name) } UNION { ?s cv:precip ?v . BIND("precip" AS ?name) }
  UNION { ?s cv:elevation ?v . BIND("elevation" AS ?name) }
} GROUP BY ?name ORDER BY ?name"""
    )
    got = results.rows(
        api.answer(
            text,
            dsn,
            cube_id=CUBE,
            bbox="10.035,49.915,10.095,49.965",
            time="2020-01-02/2020-01-03",
            variables=["t2m", "elevation"],
        )
    )[1]
    window = '"row" BETWEEN 3 AND 8 AND col BETWEEN 3 AND 9'  # cells meeting the box, as `load --bbox`
    want = fetch(
        engine,
        f"""
        SELECT 'elevation', count(elevation), avg(elevation) FROM {CELLS} WHERE {window}
        UNION ALL
        SELECT 't2m', count(t2m), avg(t2m) FROM {OBS}
        WHERE time BETWEEN '2020-01-02' AND '2020-01-03 23:59:59.999999'
          AND cell_id IN (SELECT cell_id FROM {CELLS} WHERE {window})
        ORDER BY 1""",
    )
    assert [r[0] for r in got] == ["elevation", "t2m"]  # precip left out by --variables
    assert [(a, b) for a, b, _ in got] == [(a, b) for a, b, _ in want] and want[1][1] > 20
    assert all(abs(float(g[2]) - w[2]) < 1e-9 * abs(w[2]) for g, w in zip(got, want, strict=True))


def test_past_the_limit_nothing_is_materialised(cube, monkeypatch):
    import morph_kgc

    def refuse(*args, **kwargs):
        raise AssertionError("materialised past the limit")

    monkeypatch.setattr(morph_kgc, "materialize_set", refuse)
    dsn, _ = cube
    text = q("SELECT ?s ?p ?o WHERE { ?s ?p ?o }")
    plan = api.answer(text, dsn, cube_id=CUBE, explain=True)
    total = int(plan.split()[0].replace(",", ""))
    from semantic.errors import QueryTooLargeError

    with pytest.raises(QueryTooLargeError) as refused:
        api.answer(text, dsn, cube_id=CUBE, max_triples=total - 1)
    message = str(refused.value)
    assert f"{total:,} triples" in message and f"limit of {total - 1:,}" in message
    for hint in ("--bbox", "--time", "--variables", "--endpoint", "--max-triples"):
        assert hint in message


def test_a_query_outgrowing_its_memory_stops_with_one_line(cube):
    dsn, _ = cube
    pairs = q("SELECT ?a ?b WHERE { ?a dc:row ?r . ?b dc:col ?c } ORDER BY ?a ?b")  # 336 x 336 cells, sorted
    total = int(api.answer(pairs, dsn, cube_id=CUBE, explain=True).split()[0].replace(",", ""))
    from semantic.errors import QueryTooLargeError

    with pytest.raises(QueryTooLargeError, match="grew memory past") as stopped:
        api.answer(pairs, dsn, cube_id=CUBE, max_triples=total)  # the graph fits; its evaluation does not
    assert f"limit of {total:,} triples" in str(stopped.value) and "--endpoint" in str(stopped.value)
