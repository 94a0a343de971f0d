"""The R2RML mapping of one cube as data: triples maps built once, written as Turtle through rdflib.

Why a model rather than a text template: the same maps serve two readers. `semantic mapping` writes
them whole for Ontop; `semantic query` writes a narrowed copy for morph-kgc (only the predicate-object
maps a question uses, WHERE clauses on the logical tables), so a local answer materialises only what
the question touches while exercising the published shapes: the same templates, columns and datatypes.
Writing through rdflib's serializer gives valid Turtle whatever the SQL holds (quotes, backslashes):
SQL pasted between triple quotes broke when it ended in a quoted identifier (four quotes in a row),
which lenient parsers accept and strict ones (RDF4J, which Ontop uses) reject.

Design choices, each for Ontop's sake:
- logical tables are `rr:sqlQuery` views; geometries are selected as `ST_AsText(geom) AS wkt`, a
  pattern Ontop (>= 5.4) rewrites back onto `geom` for GeoSPARQL filters, keeping the GiST index;
- times are published as UTC `xsd:dateTime` in canonical form with `Z` (the columns are timestamps
  without time zone holding UTC), built in SQL so every reader emits the same lexical form and a
  triple pattern or filter written with `Z` matches;
- measures are xsd:double; static layers keep their column's type (integer classes stay xsd:integer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF

from semantic import dtypes, schema
from semantic.registry import CubeInfo
from semantic.vocabulary import DCT, GEO, ONTOLOGY, QB, RDFS, RR, XSD, cube_base, cube_vocab, prefixes

RRNS = Namespace(RR)
DC = Namespace(ONTOLOGY)
TEMPLATE_COLUMN = re.compile(r"\{([^{}]+)\}")


def utc_text(column: str) -> str:
    """SQL for a UTC timestamp column as canonical xsd:dateTime text: seconds always, a fraction only
    when there is one (trailing zeros dropped), then `Z`. NULL stays NULL (`||` propagates it)."""
    return (
        f"to_char({column}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN {column} = date_trunc('second', {column}) THEN '' "
        f"ELSE rtrim(to_char({column}, '.US'), '0') END || 'Z'"
    )


class Role(Enum):
    """What the rows of a triples map are; narrowing knows which conditions apply to which."""

    CUBE = "cube"
    VARIABLE = "variable"
    CELL = "cell"
    GEOMETRY = "geometry"  # rows of the cells table, one geometry node per cell
    OBSERVATION = "observation"


@dataclass(frozen=True)
class TermMap:
    """An R2RML term map: exactly one of column, template or constant; a datatype for literals."""

    column: str | None = None
    template: str | None = None
    constant: URIRef | None = None
    datatype: URIRef | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """Logical-table columns this map reads."""
        if self.column is not None:
            return (self.column,)
        if self.template is not None:
            return tuple(TEMPLATE_COLUMN.findall(self.template))
        return ()


@dataclass(frozen=True)
class PredicateObjectMap:
    predicate: URIRef
    object: TermMap


@dataclass(frozen=True)
class TriplesMap:
    """One triples map over one table; `columns` are the SELECT items it may use, in order."""

    name: str
    role: Role
    table: str  # schema-qualified, quoted FROM item
    columns: tuple[tuple[str, str], ...]  # (output column name, SELECT item SQL)
    subject: TermMap
    classes: tuple[URIRef, ...] = ()
    poms: tuple[PredicateObjectMap, ...] = ()
    where: tuple[str, ...] = ()  # SQL conditions on the table's own columns, ANDed

    def used_columns(self) -> list[str]:
        wanted = set(self.subject.columns).union(*(p.object.columns for p in self.poms))
        return [name for name, _ in self.columns if name in wanted]

    def sql(self) -> str:
        """The logical table: only the columns the subject and the predicate-object maps read."""
        items = dict(self.columns)
        select = ", ".join(items[name] for name in self.used_columns())
        text = f"SELECT {select} FROM {self.table}"
        if self.where:
            text += " WHERE " + " AND ".join(self.where)
        return text


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _value(predicate: str, column: str, xsd: str) -> PredicateObjectMap:
    """A column's value as a literal of the XSD datatype with local name `xsd`."""
    return PredicateObjectMap(URIRef(predicate), TermMap(column=column, datatype=URIRef(f"{XSD}{xsd}")))


def cube_maps(info: CubeInfo) -> list[TriplesMap]:
    """The five triples maps of a cube: the cube, its variables, cells, cell geometries, observations."""
    base, cv = cube_base(info.id), cube_vocab(info.id)
    cube_iri = URIRef(f"{base}dataset")
    cells = f'{schema.SCHEMA}."{info.cells_table}"'
    obs = f'{schema.SCHEMA}."{info.observations_table}"'
    in_cube = PredicateObjectMap(DC.inCube, TermMap(constant=cube_iri))
    cube = TriplesMap(
        name="Cube",
        role=Role.CUBE,
        table=f"{schema.SCHEMA}.cube",
        columns=(
            ("title", "title"),
            ("time_start", f"{utc_text('time_start')} AS time_start"),
            ("time_end", f"{utc_text('time_end')} AS time_end"),
            ("source_uri", "source_uri"),
        ),
        where=(f"id = {_string(info.id)}",),
        subject=TermMap(constant=cube_iri),
        classes=(DC.Cube,),
        poms=(
            PredicateObjectMap(URIRef(f"{DCT}title"), TermMap(column="title")),
            PredicateObjectMap(URIRef(f"{DCT}source"), TermMap(column="source_uri")),
            PredicateObjectMap(DC.timeStart, TermMap(column="time_start", datatype=URIRef(f"{XSD}dateTime"))),
            PredicateObjectMap(DC.timeEnd, TermMap(column="time_end", datatype=URIRef(f"{XSD}dateTime"))),
        ),
    )
    variable = TriplesMap(
        name="Variable",
        role=Role.VARIABLE,
        table=f"{schema.SCHEMA}.cube_variable",
        columns=(
            ("name", "name"),
            ("column_name", "column_name"),
            ("units", "units"),
            ("long_name", "long_name"),
            ("static", "CAST(static AS text) AS static"),
        ),
        where=(f"cube_id = {_string(info.id)}",),
        subject=TermMap(template=f"{base}variable/{{column_name}}"),
        classes=(DC.Variable,),
        poms=(
            PredicateObjectMap(DC.variableName, TermMap(column="name")),
            PredicateObjectMap(DC.unitsOf, TermMap(column="units")),
            PredicateObjectMap(URIRef(f"{RDFS}label"), TermMap(column="long_name")),
            PredicateObjectMap(DC.isStatic, TermMap(column="static", datatype=URIRef(f"{XSD}boolean"))),
            in_cube,
        ),
    )
    cell_subject = TermMap(template=f"{base}cell/{{cell_id}}")
    geometry_subject = TermMap(template=f"{base}cell/{{cell_id}}/geometry")
    cell = TriplesMap(
        name="Cell",
        role=Role.CELL,
        table=cells,
        columns=(
            ("cell_id", "cell_id"),
            ("row", '"row"'),
            ("col", "col"),
            *((v.column, _static_item(v.column, v.sql_type)) for v in info.static_variables),
        ),
        subject=cell_subject,
        classes=(DC.Cell,),
        poms=(
            PredicateObjectMap(DC.row, TermMap(column="row", datatype=URIRef(f"{XSD}integer"))),
            PredicateObjectMap(DC.col, TermMap(column="col", datatype=URIRef(f"{XSD}integer"))),
            in_cube,
            *(
                _value(f"{cv}{v.column}", v.column, dtypes.by_sql(v.sql_type).xsd)
                for v in info.static_variables
            ),
            PredicateObjectMap(URIRef(f"{GEO}hasGeometry"), geometry_subject),
        ),
    )
    geometry = TriplesMap(
        name="CellGeometry",
        role=Role.GEOMETRY,
        table=cells,
        columns=(("cell_id", "cell_id"), ("wkt", "ST_AsText(geom) AS wkt")),
        subject=geometry_subject,
        classes=(DC.CellGeometry,),
        poms=(
            PredicateObjectMap(
                URIRef(f"{GEO}asWKT"), TermMap(column="wkt", datatype=URIRef(f"{GEO}wktLiteral"))
            ),
        ),
    )
    observation = TriplesMap(
        name="Observation",
        role=Role.OBSERVATION,
        table=obs,
        columns=(
            ("cell_id", "cell_id"),
            ("time", f'{utc_text("time")} AS "time"'),
            ("t_key", "CAST(EXTRACT(EPOCH FROM time) AS BIGINT) AS t_key"),
            *((v.column, f'"{v.column}"') for v in info.variables),
        ),
        subject=TermMap(template=f"{base}observation/{{cell_id}}/{{t_key}}"),
        classes=(DC.Observation,),
        poms=(
            PredicateObjectMap(URIRef(f"{QB}dataSet"), TermMap(constant=cube_iri)),
            PredicateObjectMap(DC.cell, cell_subject),
            PredicateObjectMap(DC.time, TermMap(column="time", datatype=URIRef(f"{XSD}dateTime"))),
            *(_value(f"{cv}{v.column}", v.column, "double") for v in info.variables),
        ),
    )
    return [cube, variable, cell, geometry, observation]


def _static_item(column: str, sql_type: str) -> str:
    """Booleans as 'true'/'false', the xsd:boolean lexical form (drivers would write True/False)."""
    if sql_type == "boolean":
        return f'CAST("{column}" AS text) AS "{column}"'
    return f'"{column}"'


def _term_map(graph: Graph, node: BNode, term: TermMap) -> None:
    if term.column is not None:
        graph.add((node, RRNS.column, Literal(term.column)))
    elif term.template is not None:
        graph.add((node, RRNS.template, Literal(term.template)))
    elif term.constant is not None:
        graph.add((node, RRNS.constant, term.constant))
    if term.datatype is not None:
        graph.add((node, RRNS.datatype, term.datatype))


def mapping_graph(info: CubeInfo, maps: list[TriplesMap]) -> Graph:
    """The maps as an rdflib graph; blank-node ids are fixed so the Turtle comes out the same each time."""
    graph = Graph(bind_namespaces="none")  # rdflib would otherwise claim `dc:` for Dublin Core
    graph.bind("rr", RR)
    for prefix, namespace in prefixes(info.id).items():
        graph.bind(prefix, namespace)
    mapping = f"{cube_base(info.id)}mapping#"
    for m in maps:
        node = URIRef(f"{mapping}{m.name}")
        graph.add((node, RDF.type, RRNS.TriplesMap))
        table, subject = BNode(f"{m.name}_table"), BNode(f"{m.name}_subject")
        graph.add((node, RRNS.logicalTable, table))
        graph.add((table, RRNS.sqlQuery, Literal(m.sql())))
        graph.add((node, RRNS.subjectMap, subject))
        _term_map(graph, subject, m.subject)
        for cls in m.classes:
            graph.add((subject, RRNS["class"], cls))
        for k, pom in enumerate(m.poms):
            pom_node = BNode(f"{m.name}_pom{k:03d}")
            graph.add((node, RRNS.predicateObjectMap, pom_node))
            graph.add((pom_node, RRNS.predicate, pom.predicate))
            object_node = BNode(f"{m.name}_object{k:03d}")
            graph.add((pom_node, RRNS.objectMap, object_node))
            _term_map(graph, object_node, pom.object)
    return graph


def r2rml_ttl(info: CubeInfo, maps: list[TriplesMap] | None = None) -> str:
    """W3C R2RML Turtle of the cube's maps (all of them unless given)."""
    maps = cube_maps(info) if maps is None else maps
    header = (
        f"# Generated by `semantic mapping` for cube {info.id!r}. W3C R2RML: read by Ontop (production)\n"
        "# and morph-kgc (`semantic query`). Geometries are ST_AsText(geom) typed geo:wktLiteral; times\n"
        "# are UTC xsd:dateTime with Z.\n"
    )
    return header + mapping_graph(info, maps).serialize(format="turtle")
