"""GeoSPARQL filter functions for rdflib, evaluated with shapely.

Registered under their `geof:` IRIs: sfIntersects, sfWithin, sfContains, sfDisjoint, sfEquals,
sfTouches, sfOverlaps, sfCrosses and distance. Literals are `geo:wktLiteral`s: an optional CRS IRI
followed by WKT. CRS84 (the GeoSPARQL default) is lon/lat; EPSG:4326 given by IRI is lat/lon by
definition, so its axes are swapped. Planar predicates on lon/lat are what PostGIS computes on a
`geometry(…, 4326)` column, which is what the golden tests compare with.

`geof:distance` supports uom:degree (planar, = PostGIS ST_Distance on geometry) and uom:metre
(geodesic distance between the planar nearest points, on the WGS84 ellipsoid: close to, but not
identical with, PostGIS ST_Distance on geography for large extents).
"""

from __future__ import annotations

from functools import lru_cache

import shapely
from pyproj import Geod
from rdflib import XSD, Literal, URIRef
from rdflib.plugins.sparql.operators import register_custom_function
from rdflib.plugins.sparql.sparql import SPARQLError
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points, transform

from semantic.vocabulary import GEOF, UOM

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326_PREFIXES = ("http://www.opengis.net/def/crs/EPSG/0/4326",)
_GEOD = Geod(ellps="WGS84")


@lru_cache(maxsize=200_000)
def parse_wkt(text: str) -> BaseGeometry:
    """WKT literal -> shapely geometry in lon/lat; cached because each cell is tested many times."""
    body = text.strip()
    swap = False
    if body.startswith("<"):
        iri, _, body = body[1:].partition(">")
        if iri.startswith(EPSG4326_PREFIXES):
            swap = True
        elif iri != CRS84:
            raise SPARQLError(f"unsupported CRS {iri} in wktLiteral: use CRS84 or EPSG 4326")
    try:
        geom = shapely.from_wkt(body.strip())
    except shapely.errors.GEOSException as exc:
        raise SPARQLError(f"invalid WKT {body[:60]!r}: {exc}") from exc
    if swap:
        geom = transform(lambda x, y: (y, x), geom)
    shapely.prepare(geom)
    return geom


def _geom(term) -> BaseGeometry:
    if not isinstance(term, Literal):
        raise SPARQLError(f"expected a geo:wktLiteral, found {term!r}")
    return parse_wkt(str(term))


def _predicate(test):
    def function(a, b) -> Literal:
        return Literal(bool(test(_geom(a), _geom(b))))

    return function


def distance(a, b, unit=None) -> Literal:
    ga, gb = _geom(a), _geom(b)
    unit_iri = str(unit) if unit is not None else f"{UOM}degree"
    if unit_iri == f"{UOM}degree":
        return Literal(float(ga.distance(gb)), datatype=XSD.double)
    if unit_iri in (f"{UOM}metre", f"{UOM}meter"):
        if ga.intersects(gb):
            return Literal(0.0, datatype=XSD.double)
        pa, pb = nearest_points(ga, gb)
        _, _, metres = _GEOD.inv(pa.x, pa.y, pb.x, pb.y)
        return Literal(float(metres), datatype=XSD.double)
    raise SPARQLError(f"unsupported unit {unit_iri} for geof:distance: use uom:degree or uom:metre")


PREDICATES = {
    "sfIntersects": lambda a, b: a.intersects(b),
    "sfWithin": lambda a, b: a.within(b),
    "sfContains": lambda a, b: a.contains(b),
    "sfDisjoint": lambda a, b: a.disjoint(b),
    "sfEquals": lambda a, b: a.equals(b),
    "sfTouches": lambda a, b: a.touches(b),
    "sfOverlaps": lambda a, b: a.overlaps(b),
    "sfCrosses": lambda a, b: a.crosses(b),
}


def register() -> None:
    """Register (idempotently) every function with rdflib's SPARQL engine."""
    for name, test in PREDICATES.items():
        register_custom_function(URIRef(f"{GEOF}{name}"), _predicate(test), override=True)
    register_custom_function(URIRef(f"{GEOF}distance"), distance, override=True)
