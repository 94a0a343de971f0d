"""The four generated artefacts: valid Turtle for strict parsers, OWL 2 QL-shaped, password-free, and
what Ontop expects."""

from __future__ import annotations

import io

import pyoxigraph
import pytest
from rdflib import OWL, RDF, RDFS, Graph, Literal, Namespace, URIRef
from typer.testing import CliRunner

from semantic import api
from semantic.cli import app
from tests.semantic.cubes import make_cube

pytestmark = pytest.mark.postgis
RR = Namespace("http://www.w3.org/ns/r2rml#")
GEO = Namespace("http://www.opengis.net/ont/geosparql#")
QB = Namespace("http://purl.org/linked-data/cube#")
DC = Namespace("https://w3id.org/deepcube/ontology#")
XSD = Namespace("http://www.w3.org/2001/XMLSchema#")
# axioms allowed in our OWL 2 QL ontology (plus annotations)
QL_PREDICATES = {RDF.type, RDFS.subClassOf, RDFS.domain, RDFS.range, RDFS.label, RDFS.comment, DC.units}
QL_RANGES = {
    URIRef("http://www.w3.org/2001/XMLSchema#dateTime"),
    URIRef("http://www.w3.org/2001/XMLSchema#integer"),
    URIRef("http://www.w3.org/2001/XMLSchema#string"),
}


@pytest.fixture(scope="module")
def mapping_dir(postgis, small_cube, tmp_path_factory):
    out = tmp_path_factory.mktemp("mapping")
    runner = CliRunner()
    assert (
        runner.invoke(app, ["load", small_cube, "--dsn", postgis.dsn, "--cube-id", "mapped", "-q"]).exit_code
        == 0
    )
    result = runner.invoke(app, ["mapping", "mapped", "--dsn", postgis.dsn, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_four_artefacts_are_written(mapping_dir):
    assert {p.name for p in mapping_dir.iterdir()} == {
        "ontology.ttl",
        "mapping.r2rml.ttl",
        "ontop.properties",
        "queries",
    }
    assert len(list((mapping_dir / "queries").glob("*.rq"))) == 9


def test_ontology_is_owl2_ql_shaped(mapping_dir):
    g = Graph().parse(mapping_dir / "ontology.ttl")
    assert (DC.Cell, RDFS.subClassOf, GEO.Feature) in g
    assert (DC.Observation, RDFS.subClassOf, QB.Observation) in g
    assert (DC.time, RDFS.range, URIRef("http://www.w3.org/2001/XMLSchema#dateTime")) in g
    cv = Namespace("https://w3id.org/deepcube/cube/mapped/def#")
    assert (cv.t2m, RDF.type, OWL.DatatypeProperty) in g and str(g.value(cv.t2m, DC.units)) == "K"
    assert str(g.value(cv.precip, DC.units)) == "mm"
    for s, p, o in g:
        assert p in QL_PREDICATES, p
        if p == RDFS.subClassOf:
            assert isinstance(s, URIRef) and isinstance(o, URIRef)  # named classes only
        if p == RDFS.range and g.value(s, RDF.type) == OWL.DatatypeProperty:
            assert o in QL_RANGES, (s, o)


def test_static_layers_are_cell_properties_with_units(mapping_dir):
    g = Graph().parse(mapping_dir / "ontology.ttl")
    cv = Namespace("https://w3id.org/deepcube/cube/mapped/def#")
    for prop, units in ((cv.elevation, "m"), (cv.land_cover, "1")):
        assert (prop, RDF.type, OWL.DatatypeProperty) in g
        assert (prop, RDFS.domain, DC.Cell) in g and str(g.value(prop, DC.units)) == units
    assert (cv.land_cover, RDFS.range, XSD.integer) in g and g.value(cv.elevation, RDFS.range) is None

    r2rml = Graph().parse(mapping_dir / "mapping.r2rml.ttl")
    cell_map = next(m for m in r2rml.subjects(RDF.type, RR.TriplesMap) if str(m).endswith("#Cell"))
    query = str(r2rml.value(r2rml.value(cell_map, RR.logicalTable), RR.sqlQuery))
    assert '"elevation"' in query and '"land_cover"' in query
    datatypes = {
        r2rml.value(pom, RR.predicate): r2rml.value(r2rml.value(pom, RR.objectMap), RR.datatype)
        for pom in r2rml.objects(cell_map, RR.predicateObjectMap)
    }
    assert datatypes[cv.elevation] == XSD.double and datatypes[cv.land_cover] == XSD.integer


def test_r2rml_maps_geometry_as_st_astext_wkt_literal(mapping_dir):
    g = Graph().parse(mapping_dir / "mapping.r2rml.ttl")
    maps = set(g.subjects(RDF.type, RR.TriplesMap))
    assert len(maps) == 5
    queries = [str(q) for q in g.objects(None, RR.sqlQuery)]
    assert any("ST_AsText(geom) AS wkt" in q for q in queries)
    wkt_maps = [om for om in g.subjects(RR.datatype, GEO.wktLiteral)]
    assert [str(g.value(om, RR.column)) for om in wkt_maps] == ["wkt"]


def test_ontop_properties_have_no_password(mapping_dir, postgis):
    text = (mapping_dir / "ontop.properties").read_text()
    assert f"jdbc.url=jdbc:postgresql://127.0.0.1:{postgis.port}/{postgis.database}" in text
    assert f"jdbc.user={postgis.user}" in text
    assert postgis.password not in text and "jdbc.password" not in text


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "geojson"])
def test_query_command_formats(mapping_dir, postgis, fmt):
    import json

    query = mapping_dir / "queries" / "04_mean_per_cell.rq"
    result = CliRunner().invoke(
        app, ["query", str(query), "--dsn", postgis.dsn, "--cube-id", "mapped", "--format", fmt]
    )
    assert result.exit_code == 0, result.output
    if fmt == "json":
        assert json.loads(result.stdout)["results"]["bindings"]
    elif fmt == "geojson":
        features = json.loads(result.stdout)["features"]
        assert features and features[0]["geometry"]["type"] == "Polygon"
        assert "mean" in features[0]["properties"]
    elif fmt == "csv":
        assert result.stdout.startswith("cell,wkt,mean,min,max,n\n")
    else:
        assert "mean" in result.stdout


def test_table_shows_the_first_rows_and_says_how_many_there_are(mapping_dir, postgis):
    query = mapping_dir / "queries" / "04_mean_per_cell.rq"
    base = ["query", str(query), "--dsn", postgis.dsn, "--cube-id", "mapped"]
    every = CliRunner().invoke(app, [*base, "--format", "csv"])
    total = len(every.stdout.strip().splitlines()) - 1
    assert total > 3
    short = CliRunner().invoke(app, [*base, "--limit", "3"], terminal_width=200)
    assert short.exit_code == 0, short.output
    assert f"first 3 of {total} rows" in short.stdout
    full = CliRunner().invoke(app, [*base, "--limit", "0"], terminal_width=200)
    assert "rows (--limit 0" not in full.stdout


# What the mapping used to look like: SQL pasted between triple quotes, ending in a quoted table name.
OLD_FAULTY_MAPPING = (
    "@prefix rr: <http://www.w3.org/ns/r2rml#> .\n"
    "<#Cell> a rr:TriplesMap ;\n"
    '    rr:logicalTable [ rr:sqlQuery """SELECT cell_id, "row", col FROM deepcube."cells_x"""" ] .\n'
)


def strict_triples(text: str) -> list:
    """Parse Turtle with oxigraph's W3C-conformant parser (RDF4J, which Ontop uses, is as strict)."""
    return list(pyoxigraph.parse(io.BytesIO(text.encode()), "text/turtle", base_iri="http://example.org/"))


def test_a_strict_turtle_parser_rejects_the_old_mapping_form():
    assert OLD_FAULTY_MAPPING.count('"cells_x""""') == 1
    assert len(Graph().parse(data=OLD_FAULTY_MAPPING, format="turtle", publicID="http://example.org/")) == 3
    with pytest.raises(SyntaxError):
        strict_triples(OLD_FAULTY_MAPPING)


ODD_TEXT = 'a "quoted" word, """three quotes""", a back\\slash\\ and\na newline'
SHAPES = {
    "small": {},
    "nostatic": {"static": False},
    "floatclasses": {"land_cover_dtype": "float32"},
    "projected": {"crs": "EPSG:3035", "origin": (4_321_000.0, 3_210_000.0), "res": 1000.0, "zarr_format": 3},
    "oddtext": {
        "title": ODD_TEXT,
        "variables": ("t2m", 'air "t" 2m\\'),
        "variable_attrs": {"t2m": {"units": ODD_TEXT, "long_name": ODD_TEXT + '"'}},
    },
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_ontology_and_mapping_are_valid_turtle_for_a_strict_parser(postgis, cubes_dir, tmp_path, shape):
    path = make_cube(cubes_dir / f"shape_{shape}.zarr", height=4, width=5, times=2, **SHAPES[shape])
    api.load(path, postgis.dsn, cube_id=f"shape_{shape}")
    written = {p.name: p for p in api.write_mapping(f"shape_{shape}", postgis.dsn, tmp_path)}
    for name in ("ontology.ttl", "mapping.r2rml.ttl"):
        text = written[name].read_text()
        strict = strict_triples(text)
        lenient = Graph().parse(data=text, format="turtle")
        assert len(strict) == len(lenient) > 50, name
    r2rml = Graph().parse(written["mapping.r2rml.ttl"])
    queries = {str(q) for q in r2rml.objects(None, RR.sqlQuery)}
    assert any(q.endswith(f'FROM deepcube."cells_shape_{shape}"') for q in queries)  # the old breaking case
    if shape == "oddtext":
        ontology = Graph().parse(written["ontology.ttl"])
        assert Literal(ODD_TEXT) in set(ontology.objects(None, DC.units))
        assert (None, RDFS.label, Literal(ODD_TEXT + '"')) in ontology


def test_the_strict_parser_reads_the_same_sql_as_rdflib(mapping_dir):
    text = (mapping_dir / "mapping.r2rml.ttl").read_text()
    strict = {
        t.object.value
        for t in strict_triples(text)
        if t.predicate.value == "http://www.w3.org/ns/r2rml#sqlQuery"
    }
    lenient = {str(q) for q in Graph().parse(data=text, format="turtle").objects(None, RR.sqlQuery)}
    assert strict == lenient and len(strict) == 5
