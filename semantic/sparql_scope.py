"""Which predicates and which table rows a SPARQL query can use, read from its algebra (rdflib).

`semantic query` materialises only this part of the cube, so the answer must come out exactly as over
the whole cube. The rule that keeps it so: a row may be left out only if no solution of the query can
use a triple from it. Rows are reasoned about per *group*, a part of the pattern whose every solution
satisfies the group's triple patterns and FILTERs together (joins, filters, BINDs, the left side of
OPTIONAL and MINUS). Inside a group a subject variable names one row (subject IRIs are keyed on the
row's key), so the group's filters on that variable's values become conditions on that row. Nested
parts are groups of their own: a UNION branch also obeys the filters around it; OPTIONAL, MINUS and
(NOT) EXISTS parts only inherit the conditions of variables the outer group binds (their rows can only
meet the outer rows through those variables); a sub-SELECT (which may LIMIT) inherits nothing; anything
not understood (paths with * or +, GRAPH, SERVICE) needs every row. The triple patterns of a map's
rows, collected over all groups, give its rows as an OR of conditions.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass

from rdflib import BNode, Literal, URIRef, Variable
from rdflib.namespace import RDF
from rdflib.paths import InvPath, Path, SequencePath
from rdflib.plugins.sparql.parserutils import CompValue

from semantic import conditions as cond
from semantic.r2rml import Role, TriplesMap

TABLE_OF = {Role.CELL: "cells", Role.GEOMETRY: "cells", Role.OBSERVATION: "observations"}
MODIFIERS = ("Project", "Distinct", "Reduced", "Slice", "OrderBy")
EVERY_ROW: frozenset = frozenset()


@dataclass(frozen=True)
class Produces:
    """A predicate-object map seen from the query: which map, what its object is."""

    map: TriplesMap
    column: str | None  # the literal's column, if the object is a column value
    datatype: URIRef | None
    target: TriplesMap | None  # the map whose subjects the object IRIs are, if any


@dataclass
class Needs:
    """What a query can use: predicates and rdf:type classes (None: all), and per map the OR of row
    conditions (a missing map is not needed at all)."""

    predicates: frozenset | None
    classes: frozenset | None
    rows: dict[str, set]


def _vocabulary(maps: list[TriplesMap]) -> tuple[dict, dict]:
    by_subject = {m.subject.template: m for m in maps if m.subject.template}
    produces: dict[URIRef, list[Produces]] = defaultdict(list)
    classes: dict[URIRef, list[TriplesMap]] = defaultdict(list)
    for m in maps:
        for cls in m.classes:
            classes[cls].append(m)
        for pom in m.poms:
            target = by_subject.get(pom.object.template) if pom.object.template else None
            produces[pom.predicate].append(Produces(m, pom.object.column, pom.object.datatype, target))
    return produces, classes


def _is_var(term) -> bool:
    return isinstance(term, (Variable, BNode))


def _walk(node):
    """Every CompValue below `node` (expressions and EXISTS patterns included) and every triple of its
    basic graph patterns (algebra BGPs, or parser-form TriplesBlocks of flat s, p, o runs)."""
    if isinstance(node, CompValue):
        yield node
        if node.name in ("BGP", "TriplesBlock"):
            for run in node.get("triples") or []:
                run = list(run)
                for k in range(0, len(run) - 2, 3):
                    yield tuple(run[k : k + 3])
            return
        for key, value in node.items():
            if key != "template":  # a CONSTRUCT template reads nothing from the graph
                yield from _walk(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _walk(value)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)


def _path_parts(path):
    """The path itself, its sub-paths and its IRIs (rdflib: args, arg or path attributes)."""
    yield path
    if isinstance(path, Path):
        children = getattr(path, "args", None) or [getattr(path, "arg", None) or getattr(path, "path", None)]
        for child in children:
            if child is not None:
                yield from _path_parts(child)


def predicates_and_classes(algebra) -> tuple[frozenset | None, frozenset | None]:
    """Every predicate IRI and rdf:type class the query names anywhere; None where a variable (or a
    negated path) stands, since that may match any."""
    predicates, classes = set(), set()
    any_predicate = any_class = False
    for item in _walk(algebra):
        if not isinstance(item, tuple):
            continue
        _, p, o = item
        parts = list(_path_parts(p)) if isinstance(p, Path) else [p]
        if any(type(x).__name__ == "NegatedPath" for x in parts) or _is_var(p):
            any_predicate = any_class = True
            continue
        iris = [x for x in parts if isinstance(x, URIRef)]
        predicates.update(iris)
        if RDF.type in iris:
            if isinstance(p, URIRef) and isinstance(o, URIRef):
                classes.add(o)
            else:
                any_class = True
    return (None if any_predicate else frozenset(predicates)), (None if any_class else frozenset(classes))


class Analysis:
    """Walks the algebra group by group and collects, per map, the conditions of its rows."""

    def __init__(self, maps: list[TriplesMap]) -> None:
        self.produces, self.class_maps = _vocabulary(maps)
        self.maps = maps
        self.rows: dict[str, set] = defaultdict(set)
        self._fresh = 0

    # -- walking ----------------------------------------------------------------------------------
    def query(self, node) -> None:
        """A (sub)query: skip its modifiers; HAVING and SELECT expressions above an aggregate are not
        filters on rows, and EXISTS inside them is analysed on its own."""
        while getattr(node, "name", None) in MODIFIERS or getattr(node, "name", None) == "ToMultiSet":
            self._exists_in(getattr(node, "expr", None), {})
            node = node.p
        above, probe = [], node
        while getattr(probe, "name", None) in ("Filter", "Extend"):
            above.append(probe)
            probe = probe.p
        if getattr(probe, "name", None) in ("AggregateJoin", "Group"):
            for part in above:
                self._exists_in(part.expr, {})
            node = probe.p
            if getattr(node, "name", None) == "Group":
                node = node.p
        self.group(node, {}, [])

    def group(self, node, inherited: dict, outer_filters: list) -> None:
        parts = {"triples": [], "filters": list(outer_filters), "extends": [], "children": []}
        self._collect(node, parts)
        entities = self._entities(parts, inherited)
        for kind, child, extra in parts["children"]:
            if kind == "subquery":
                self.query(child)
            elif kind == "opaque":
                self.opaque(child)
            else:
                passed = {**inherited, **entities}
                filters = parts["filters"] if kind == "union" else extra
                self.group(child, passed, filters)

    def _collect(self, node, parts: dict) -> None:
        name = getattr(node, "name", None)
        if name == "BGP":
            for s, p, o in node.triples:
                self._pattern(s, p, o, parts)
        elif name == "Join":
            self._collect(node.p1, parts)
            self._collect(node.p2, parts)
        elif name == "Filter":
            parts["filters"].extend(cond.conjuncts(node.expr))
            self._exists_children(node.expr, parts)
            self._collect(node.p, parts)
        elif name == "Extend":
            parts["extends"].append((node.var, node.expr))
            self._exists_children(node.expr, parts)
            self._collect(node.p, parts)
        elif name == "LeftJoin":
            self._collect(node.p1, parts)
            extra = cond.conjuncts(node.expr) if getattr(node, "expr", None) is not None else []
            parts["children"].append(("optional", node.p2, extra))
            self._exists_children(getattr(node, "expr", None), parts)
        elif name == "Minus":
            self._collect(node.p1, parts)
            parts["children"].append(("minus", node.p2, []))
        elif name == "Union":
            parts["children"] += [("union", node.p1, []), ("union", node.p2, [])]
        elif name == "ToMultiSet":
            if getattr(node.p, "name", None) != "values":
                parts["children"].append(("subquery", node.p, []))
        elif name in (*MODIFIERS, "AggregateJoin", "Group"):
            parts["children"].append(("subquery", node, []))
        elif name == "GroupGraphPatternSub":
            parts["children"].append(("exists", _translated(node), []))
        elif name != "values" and node is not None:
            parts["children"].append(("opaque", node, []))

    def _exists_children(self, expr, parts: dict) -> None:
        for item in _walk(expr) if expr is not None else ():
            if isinstance(item, CompValue) and item.name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
                parts["children"].append(("exists", _translated(item.graph), []))

    def _exists_in(self, expr, inherited: dict) -> None:
        parts = {"children": []}
        self._exists_children(expr, parts)
        for _, child, _ in parts["children"]:
            self.group(child, inherited, [])

    def _pattern(self, s, p, o, parts: dict) -> None:
        """A triple pattern; simple paths (sequences and inverses of IRIs) become chains of patterns."""
        if isinstance(p, SequencePath) and all(
            isinstance(a, URIRef) or (isinstance(a, InvPath) and isinstance(a.arg, URIRef)) for a in p.args
        ):
            nodes = [s] + [self._fresh_var() for _ in p.args[1:]] + [o]
            for k, step in enumerate(p.args):
                self._pattern(nodes[k], step, nodes[k + 1], parts)
        elif isinstance(p, InvPath) and isinstance(p.arg, URIRef):
            parts["triples"].append((o, p.arg, s))
        elif isinstance(p, URIRef):
            parts["triples"].append((s, p, o))
        else:  # variable predicate or a path we do not follow: every row of what it may match
            self.opaque(CompValue("BGP", triples=[(s, p, o)]))

    def _fresh_var(self) -> Variable:
        self._fresh += 1
        return Variable(f"__narrowing_path_{self._fresh}")

    def opaque(self, node) -> None:
        """Every triple pattern below `node` needs every row of every map it may match."""
        for item in _walk(node):
            if isinstance(item, tuple):
                for m in self._maps_for(item[1], item[2]):
                    self.rows[m.name].add(EVERY_ROW)

    def _maps_for(self, p, o) -> list[TriplesMap]:
        """The maps whose triples a pattern with predicate `p` and object `o` may match."""
        if isinstance(p, URIRef) and p == RDF.type:
            return list(self.class_maps.get(o, [])) if isinstance(o, URIRef) else list(self.maps)
        if isinstance(p, URIRef):
            return [d.map for d in self.produces.get(p, [])]
        return list(self.maps)

    # -- one group ------------------------------------------------------------------------------------
    def _entities(self, parts: dict, inherited: dict) -> dict:
        """Resolve the group's subject variables to rows, derive their conditions, record occurrences.
        Returns {variable: (table, conjunction)} for nested groups to inherit."""
        roles: dict = {}
        same_row: dict = {}
        values: dict = defaultdict(list)  # value variable -> [(subject, Produces)]
        atoms: dict = defaultdict(set)  # subject -> atoms
        cell_links: list = []

        def restrict(term, maps: set | None) -> None:
            """`term`, if a map's subject, is one of `maps` (None: no telling which)."""
            if not _is_var(term):
                return
            if roles.get(term) is None:
                roles[term] = maps
            elif maps is not None:
                roles[term] = roles[term] & maps

        def root(term):
            while same_row.get(term, term) != term:
                term = same_row[term]
            return term

        for s, p, o in parts["triples"]:
            if p == RDF.type:
                restrict(s, {id(m) for m in self.class_maps.get(o, [])} if isinstance(o, URIRef) else None)
                continue
            found = self.produces.get(p, [])
            restrict(s, {id(d.map) for d in found})
            for d in found:
                if d.target is not None:
                    restrict(o, {id(d.target)})
                    if d.target.table == d.map.table and _is_var(o) and _is_var(s):
                        same_row[root(o)] = root(s)
                    elif TABLE_OF.get(d.target.role) == "cells":
                        cell_links.append((s, o, d.map))
                if d.column is not None and _is_var(o):
                    values[o].append((s, d))
                elif d.column is not None and isinstance(o, Literal):
                    atoms[(s, id(d.map))].update(cond.constant_atoms(d.column, d.datatype, o))
                if d.column is not None:
                    atoms[(s, id(d.map))].add(cond.NotNull(d.column))

        by_id = {id(m): m for m in self.maps}

        def map_of(term) -> TriplesMap | None:
            chosen = roles.get(term)
            return by_id[next(iter(chosen))] if chosen is not None and len(chosen) == 1 else None

        self._filter_atoms(parts, values, atoms, map_of)
        entity: dict = defaultdict(set)  # row root -> atoms on that row
        table: dict = {}
        for term in roles:
            m = map_of(term)
            t = TABLE_OF.get(m.role) if m is not None else None
            if term in inherited and (t is None or t == inherited[term][0]):
                t = inherited[term][0]
                entity[root(term)].update(inherited[term][1])
            key = root(term)
            if t is None or table.get(key, t) != t:
                table[key] = None
            else:
                table.setdefault(key, t)
            if m is not None:
                entity[key].update(atoms.get((term, id(m)), ()))
        for s, o, _ in cell_links:
            if table.get(root(s)) == "observations" and table.get(root(o)) == "cells":
                inner = frozenset(a for a in entity[root(o)] if not isinstance(a, cond.CellIn))
                if inner:
                    entity[root(s)].add(cond.CellIn(inner))

        def condition(term, m: TriplesMap) -> frozenset:
            key = root(term) if _is_var(term) else None
            if key is None or table.get(key) is None or table[key] != TABLE_OF.get(m.role):
                return EVERY_ROW
            return frozenset(entity[key])

        for s, p, o in parts["triples"]:
            for m in self._maps_for(p, o):
                self.rows[m.name].add(condition(s, m))
        return {
            term: (table[root(term)], frozenset(entity[root(term)]))
            for term in roles
            if isinstance(term, Variable) and table.get(root(term)) is not None
        }

    def _filter_atoms(self, parts: dict, values: dict, atoms: dict, map_of) -> None:
        """Atoms on the subjects' rows from the group's FILTER conjuncts and BINDs of geof:distance."""
        distances = {}
        for var, expr in parts["extends"]:
            call = cond.distance_call(expr)
            if call is not None:
                distances[var] = call
        for expr in parts["filters"]:
            for var, make in cond.atom_makers(expr, distances):
                for subject, produced in values.get(var, []):
                    atom = make(produced.column, produced.datatype)
                    if atom is not None and map_of(subject) is produced.map:
                        atoms[(subject, id(produced.map))].add(atom)


def _translated(graph):
    """An EXISTS pattern, in algebra form (rdflib leaves some in parser form)."""
    if getattr(graph, "name", None) != "GroupGraphPatternSub":
        return graph
    from rdflib.plugins.sparql.algebra import translateGroupGraphPattern

    try:
        return translateGroupGraphPattern(copy.deepcopy(graph))
    except Exception:
        return CompValue("Opaque", graph=graph)


def needs(algebra, maps: list[TriplesMap]) -> Needs:
    """The predicates, classes and rows of `maps` the query (rdflib algebra) can use."""
    predicates, classes = predicates_and_classes(algebra)
    analysis = Analysis(maps)
    if algebra.name == "DescribeQuery" or algebra.get("p") is None:
        predicates = classes = None
        analysis.opaque(CompValue("BGP", triples=[(Variable("s"), Variable("p"), Variable("o"))]))
    else:
        analysis.query(algebra.p)
    return Needs(predicates, classes, dict(analysis.rows))
