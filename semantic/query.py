"""`semantic query` answered locally: materialise only what the question touches, then evaluate it.

Production queries go to Ontop, which rewrites SPARQL into SQL. Locally there is no Ontop, so the R2RML
mapping is materialised with morph-kgc into an rdflib graph (GeoSPARQL functions registered with
shapely) and the query is evaluated there. Materialising a whole cube costs minutes and gigabytes, so
the steps are:
1. parse the query (a syntax error is reported before the database is touched); a time constant
   without a time zone is read as UTC, the cube's zone;
2. read from its algebra which predicates and rows it can use (`sparql_scope`), narrow the published
   maps to that, within the user's --bbox/--time/--variables (`subset`);
3. count the triples the narrowed SQL yields and refuse, in one line, past the limit (`--max-triples`):
   a triple costs about BYTES_PER_TRIPLE at the peak, so the graph stays within the limit's memory;
4. materialise the narrowed maps plus the ontology, evaluate, and hand the result to `results`, all
   under a memory ceiling (`memory_guard`) of the limit's memory: a query whose joins outgrow it
   stops with one line instead of swapping.
The query's FILTERs still run on the graph: narrowing only leaves out rows no solution can use.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rdflib import Graph, Literal
from rdflib.namespace import XSD
from rdflib.plugins.sparql import prepareQuery
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.plugins.sparql.sparql import Query
from rdflib.query import Result
from sqlalchemy.engine import URL

from semantic import geosparql, memory_guard
from semantic.errors import QueryError, QueryTooLargeError
from semantic.ontology import ontology_graph
from semantic.r2rml import TriplesMap, cube_maps, r2rml_ttl
from semantic.registry import CubeInfo
from semantic.results import lexical_literals
from semantic.sparql_scope import needs
from semantic.subset import Subset, count_triples, narrow
from semantic.vocabulary import prefixes

TIME_ZONE = re.compile(r"(Z|[+-]\d\d:\d\d)$")
DEFAULT_MAX_TRIPLES = 300_000
BYTES_PER_TRIPLE = 2_500  # peak RSS per materialised triple (morph-kgc strings + rdflib graph), measured
BASE_BYTES = 200_000_000  # the process before materialising (Python, rdflib, morph-kgc, pandas), measured
NARROWING_HINT = (
    "narrow it with --bbox WEST,SOUTH,EAST,NORTH, --time START/END or --variables NAMES (or tighter "
    "FILTERs in the query), raise --max-triples, or send it to a SPARQL endpoint with --endpoint URL"
)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def read_query(path: Path) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or _one_line(exc)
        raise QueryError(f"cannot read query file {path}: {reason}") from exc


def parse(text: str, source: str, cube_id: str | None = None) -> Query:
    """The query's algebra (rdflib), with the cube's prefixes predeclared; one-line syntax errors.

    xsd:dateTime constants written without a time zone are read as UTC (`as_utc`).
    """
    known = prefixes(cube_id or "cube")
    if cube_id is None:
        known.pop("cv")
    try:
        with lexical_literals():
            query = prepareQuery(text, initNs=known)
    except Exception as exc:
        raise QueryError(f"invalid SPARQL in {source}: {_one_line(exc)}") from exc
    query.algebra = as_utc(query.algebra)
    return query


def as_utc(node):
    """The algebra with every xsd:dateTime constant lacking a time zone given `Z`.

    The cube's times are UTC and published with `Z`. XPath compares a time without a zone through an
    implicit time zone; rdflib has none and treats such comparisons as errors, so a filter written
    without `Z` would silently select nothing. UTC, the cube's own zone, is the implicit zone here.
    """
    if isinstance(node, Literal):
        if node.datatype == XSD.dateTime and not TIME_ZONE.search(str(node)):
            return Literal(f"{node}Z", datatype=XSD.dateTime, normalize=False)
        return node
    if isinstance(node, CompValue):
        for key, value in node.items():
            node[key] = as_utc(value)
        return node
    if isinstance(node, list):
        return [as_utc(v) for v in node]
    if isinstance(node, tuple):
        return tuple(as_utc(v) for v in node)
    if isinstance(node, dict):
        return {k: as_utc(v) for k, v in node.items()}
    return node


@dataclass(frozen=True)
class LocalPlan:
    """The narrowed maps and how many triples each yields."""

    maps: list[TriplesMap]
    triples: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.triples.values())

    def describe(self) -> str:
        """Per map: its triples and its SQL, for --explain."""
        lines = [f"{self.total:,} triples to materialise"]
        for m in self.maps:
            lines += [f"{m.name}: {self.triples[m.name]:,} triples", f"  {m.sql()}"]
        return "\n".join(lines)


def plan(conn, info: CubeInfo, query: Query, subset: Subset) -> LocalPlan:
    """Narrow the cube's maps to what `query` can use within `subset`, and count their triples."""
    published = cube_maps(info)
    maps = narrow(info, published, needs(query.algebra, published), subset)
    return LocalPlan(maps, count_triples(conn, maps))


def memory_for(triples: int) -> int:
    """Peak bytes of a local answer materialising this many triples."""
    return BASE_BYTES + triples * BYTES_PER_TRIPLE


def check_size(local: LocalPlan, info: CubeInfo, limit: int) -> None:
    if local.total <= limit:
        return
    largest = max(local.triples, key=local.triples.get)
    gigabytes = memory_for(local.total) / 1e9
    raise QueryTooLargeError(
        f"this query would materialise {local.total:,} triples from cube {info.id!r} (about "
        f"{gigabytes:.1f} GB; {local.triples[largest]:,} of them {largest} triples), over the local limit of "
        f"{limit:,} (--max-triples): {NARROWING_HINT}"
    )


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


def materialise(info: CubeInfo, url: URL, maps: list[TriplesMap]) -> Graph:
    """The triples of `maps` (morph-kgc over PostGIS) plus the ontology, in one rdflib graph."""
    graph = Graph()
    if maps:
        import morph_kgc

        logging.getLogger("morph_kgc").setLevel(logging.WARNING)
        with tempfile.TemporaryDirectory(prefix="semantic-r2rml-") as tmp:
            mapping_path = Path(tmp) / "mapping.r2rml.ttl"
            mapping_path.write_text(r2rml_ttl(info, maps))
            triples = morph_kgc.materialize_set(morph_kgc_config(mapping_path, url))
        if triples:
            data = ".\n".join(triples) + ".\n"
            del triples
            with lexical_literals():
                graph.parse(data=data, format="nt")
            del data
    graph += ontology_graph(info)
    for prefix, namespace in prefixes(info.id).items():
        graph.bind(prefix, namespace, override=True)
    return graph


def evaluate(graph: Graph, query: Query) -> Result:
    """Run a parsed query on the graph; evaluation errors become one-line QueryErrors."""
    geosparql.register()
    try:
        with lexical_literals():
            result = graph.query(query)
            if result.type == "SELECT":
                result.bindings  # evaluate now, inside the error handling  # noqa: B018
        return result
    except Exception as exc:
        raise QueryError(f"query failed: {type(exc).__name__}: {_one_line(exc)}") from exc


def answer(info: CubeInfo, url: URL, local: LocalPlan, query: Query, max_triples: int) -> Result:
    """Materialise the plan and evaluate the query, growing memory by no more than `max_triples`
    triples would (the limit's memory): past it, one line instead of swapping."""
    allowance = max_triples * BYTES_PER_TRIPLE
    try:
        with memory_guard.growth(allowance):
            return evaluate(materialise(info, url, local.maps), query)
    except memory_guard.MemoryCeilingExceeded:
        raise QueryTooLargeError(
            f"answering this query locally grew memory past {allowance / 1e9:.2f} GB, what the local "
            f"limit of {max_triples:,} triples allows (its joins or sorts outgrow its {local.total:,} "
            f"triples): {NARROWING_HINT}"
        ) from None
