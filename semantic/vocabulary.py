"""IRIs and prefixes shared by the ontology, the R2RML mapping and the example queries."""

from __future__ import annotations

BASE = "https://w3id.org/deepcube/"
ONTOLOGY = f"{BASE}ontology#"
GEO = "http://www.opengis.net/ont/geosparql#"
GEOF = "http://www.opengis.net/def/function/geosparql/"
UOM = "http://www.opengis.net/def/uom/OGC/1.0/"
SF = "http://www.opengis.net/ont/sf#"
QB = "http://purl.org/linked-data/cube#"
RR = "http://www.w3.org/ns/r2rml#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
DCT = "http://purl.org/dc/terms/"


def cube_base(cube_id: str) -> str:
    """Namespace of one cube's individuals (cells, geometries, observations, variables)."""
    return f"{BASE}cube/{cube_id}/"


def cube_vocab(cube_id: str) -> str:
    """Namespace of one cube's measure properties (one per variable): units differ between cubes."""
    return f"{BASE}cube/{cube_id}/def#"


def prefixes(cube_id: str) -> dict[str, str]:
    return {
        "dc": ONTOLOGY,
        "cv": cube_vocab(cube_id),
        "geo": GEO,
        "geof": GEOF,
        "uom": UOM,
        "sf": SF,
        "qb": QB,
        "xsd": XSD,
        "rdfs": RDFS,
        "owl": OWL,
        "dct": DCT,
    }


def sparql_prefixes(names: dict[str, str]) -> str:
    return "".join(f"PREFIX {k}: <{v}>\n" for k, v in names.items())
