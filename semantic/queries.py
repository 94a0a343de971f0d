"""The catalogue of example GeoSPARQL queries, as functions of explicit parameters.

The same builders write the catalogue files (parameters chosen from the cube's extent) and drive the
golden tests (parameters chosen by the test), so what users copy is what the tests prove. Each catalogue
entry keeps the parameters it was built from, so its SQL twin can be written from the same values.

The catalogue asks questions of a bounded part of the cube: an area of interest of about AOI_CELLS x
AOI_CELLS cells around the centre and the first week. `semantic query` materialises only what a
question touches, so these examples answer locally in seconds on any cube size, as they would on Ontop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from semantic.registry import CubeInfo
from semantic.vocabulary import prefixes, sparql_prefixes

Bbox = tuple[float, float, float, float]


def _head(info: CubeInfo, comment: str) -> str:
    lines = "".join(f"# {line}\n" for line in comment.strip().splitlines())
    return f"{lines}{sparql_prefixes(prefixes(info.id))}\n"


def _dt(value: datetime) -> str:
    """A UTC time as an xsd:dateTime constant with Z, the form the mapping publishes."""
    return f'"{value.strftime("%Y-%m-%dT%H:%M:%S")}Z"^^xsd:dateTime'


def bbox_polygon(bbox: Bbox) -> str:
    w, s, e, n = bbox
    return f"POLYGON(({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))"


def wkt(text: str) -> str:
    return f'"{text}"^^geo:wktLiteral'


def _time_filter(start: datetime | None, end: datetime | None) -> str:
    """A FILTER line on ?time, or nothing when no bound is given."""
    bounds = []
    if start is not None:
        bounds.append(f"?time >= {_dt(start)}")
    if end is not None:
        bounds.append(f"?time <= {_dt(end)}")
    return f"  FILTER({' && '.join(bounds)})\n" if bounds else ""


def _during(start: datetime | None, end: datetime | None) -> str:
    if start is None and end is None:
        return "over all times"
    return f"from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC" if start and end else "in a time range"


def bbox_time_threshold(
    info: CubeInfo, bbox: Bbox, start: datetime, end: datetime, variable: str, threshold: float
) -> str:
    return (
        _head(info, f"Cells intersecting a bbox, between two times, where {variable} > {threshold}.")
        + f"""\
SELECT ?cell ?time ?value ?wkt WHERE {{
  ?obs dc:cell ?cell ; dc:time ?time ; cv:{variable} ?value .
  ?cell geo:hasGeometry/geo:asWKT ?wkt .
  FILTER(?time >= {_dt(start)} && ?time <= {_dt(end)})
  FILTER(?value > {threshold})
  FILTER(geof:sfIntersects(?wkt, {wkt(bbox_polygon(bbox))}))
}}
ORDER BY ?cell ?time
"""
    )


def cells_within(info: CubeInfo, polygon: str) -> str:
    return (
        _head(info, "Cells lying entirely within a polygon.")
        + f"""\
SELECT ?cell ?row ?col ?wkt WHERE {{
  ?cell a dc:Cell ; dc:row ?row ; dc:col ?col ; geo:hasGeometry/geo:asWKT ?wkt .
  FILTER(geof:sfWithin(?wkt, {wkt(polygon)}))
}}
ORDER BY ?cell
"""
    )


def cells_near(info: CubeInfo, lon: float, lat: float, degrees: float) -> str:
    return (
        _head(info, f"Cells within {degrees} degrees of a point, nearest first.")
        + f"""\
SELECT ?cell ?distance ?wkt WHERE {{
  ?cell a dc:Cell ; geo:hasGeometry/geo:asWKT ?wkt .
  BIND(geof:distance(?wkt, {wkt(f"POINT({lon} {lat})")}, uom:degree) AS ?distance)
  FILTER(?distance < {degrees})
}}
ORDER BY ?distance ?cell
"""
    )


def mean_per_cell(
    info: CubeInfo, variable: str, bbox: Bbox, start: datetime | None = None, end: datetime | None = None
) -> str:
    timed = start is not None or end is not None
    return (
        _head(
            info,
            f"Per cell in a bbox: mean, min, max and count of {variable} {_during(start, end)}.",
        )
        + f"""\
SELECT ?cell ?wkt (AVG(?value) AS ?mean) (MIN(?value) AS ?min) (MAX(?value) AS ?max) (COUNT(?value) AS ?n)
WHERE {{
  ?obs dc:cell ?cell ; {"dc:time ?time ; " if timed else ""}cv:{variable} ?value .
  ?cell geo:hasGeometry/geo:asWKT ?wkt .
{_time_filter(start, end)}  FILTER(geof:sfIntersects(?wkt, {wkt(bbox_polygon(bbox))}))
}}
GROUP BY ?cell ?wkt
ORDER BY ?cell
"""
    )


def variables_with_units(info: CubeInfo) -> str:
    return (
        _head(info, "The cube's variables: name, units, label, and whether a static (cell) layer.")
        + """\
SELECT ?name ?units ?label ?static WHERE {
  ?var a dc:Variable ; dc:variableName ?name ; dc:unitsOf ?units ; rdfs:label ?label ; dc:isStatic ?static .
}
ORDER BY ?name
"""
    )


def time_series_at(info: CubeInfo, lon: float, lat: float, variable: str) -> str:
    return (
        _head(info, f"Time series of {variable} in the cell that contains a point.")
        + f"""\
SELECT ?time ?value WHERE {{
  ?cell geo:hasGeometry/geo:asWKT ?wkt .
  FILTER(geof:sfContains(?wkt, {wkt(f"POINT({lon} {lat})")}))
  ?obs dc:cell ?cell ; dc:time ?time ; cv:{variable} ?value .
}}
ORDER BY ?time
"""
    )


def static_threshold_in_polygon(
    info: CubeInfo,
    static: str,
    above: float,
    polygon: str,
    variable: str,
    threshold: float,
    start: datetime | None = None,
    end: datetime | None = None,
) -> str:
    """Static layer and observations together: the question static layers were loaded for."""
    return (
        _head(
            info,
            f"Cells within a polygon whose {static} > {above}, with their observations where "
            f"{variable} > {threshold}, {_during(start, end)}.",
        )
        + f"""\
SELECT ?cell ?{static} ?time ?value ?wkt WHERE {{
  ?cell a dc:Cell ; cv:{static} ?{static} ; geo:hasGeometry/geo:asWKT ?wkt .
  FILTER(?{static} > {above})
  FILTER(geof:sfWithin(?wkt, {wkt(polygon)}))
  ?obs dc:cell ?cell ; dc:time ?time ; cv:{variable} ?value .
  FILTER(?value > {threshold})
{_time_filter(start, end)}}}
ORDER BY ?cell ?time
"""
    )


def mean_where_static_above(
    info: CubeInfo,
    variable: str,
    static: str,
    above: float,
    bbox: Bbox | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> str:
    where = "in a bbox, " if bbox is not None else ""
    timed = start is not None or end is not None
    spatial = ""
    if bbox is not None:
        spatial = (
            "  ?cell geo:hasGeometry/geo:asWKT ?wkt .\n"
            f"  FILTER(geof:sfIntersects(?wkt, {wkt(bbox_polygon(bbox))}))\n"
        )
    return (
        _head(
            info,
            f"Mean and count of {variable} {_during(start, end)}, {where}in cells whose {static} > {above}.",
        )
        + f"""\
SELECT (AVG(?value) AS ?mean) (COUNT(?value) AS ?n) (COUNT(DISTINCT ?cell) AS ?cells) WHERE {{
  ?cell cv:{static} ?s .
  FILTER(?s > {above})
{spatial}  ?obs dc:cell ?cell ; {"dc:time ?time ; " if timed else ""}cv:{variable} ?value .
{_time_filter(start, end)}}}
"""
    )


def cells_of_class_within(info: CubeInfo, static: str, value: int, polygon: str) -> str:
    return (
        _head(info, f"Cells of {static} class {value} lying entirely within a polygon.")
        + f"""\
SELECT ?cell ?wkt WHERE {{
  ?cell cv:{static} {value} ; geo:hasGeometry/geo:asWKT ?wkt .
  FILTER(geof:sfWithin(?wkt, {wkt(polygon)}))
}}
ORDER BY ?cell
"""
    )


AOI_CELLS = 25  # the examples' area of interest is about this many cells wide and high
EXAMPLE_DAYS = 7  # and spans the first week (the first time step plus 7 days)


@dataclass(frozen=True)
class Example:
    """One catalogue query: its text, and the builder and parameters it came from."""

    text: str
    builder: str
    params: dict[str, object] = field(default_factory=dict)


def area_of_interest(info: CubeInfo) -> Bbox:
    """About AOI_CELLS x AOI_CELLS cells around the centre of the loaded window (at most half of it)."""
    west, south, east, north = info.bbox()
    row0, row1, col0, col1 = info.window
    dx, dy = east - west, north - south
    half_x = min(dx / 4, AOI_CELLS / 2 * dx / max(1, col1 - col0))
    half_y = min(dy / 4, AOI_CELLS / 2 * dy / max(1, row1 - row0))
    cx, cy = west + dx / 2, south + dy / 2
    return tuple(round(v, 6) for v in (cx - half_x, cy - half_y, cx + half_x, cy + half_y))  # type: ignore[return-value]


def example_queries(
    info: CubeInfo, thresholds: dict[str, float] | None = None, classes: dict[str, int] | None = None
) -> dict[str, Example]:
    """The catalogue written by `semantic mapping`, with parameters taken from the cube's extent.

    `thresholds` (by column) are typical values (the mapping command passes sample means) and
    `classes` a frequent value of each integer static layer; without them, 0 and no class query.
    """
    thresholds, classes = thresholds or {}, classes or {}
    aoi = area_of_interest(info)
    west, south, east, north = aoi
    lon, lat = round(west + (east - west) * 0.37, 6), round(south + (north - south) * 0.41, 6)
    start = info.time_start or datetime(1970, 1, 1)
    end = min(info.time_end or start, start + timedelta(days=EXAMPLE_DAYS))
    var = info.variables[0].column
    threshold = round(thresholds.get(var, 0.0), 3)
    triangle = (
        f"POLYGON(({west} {south}, {east} {south}, {round((west + east) / 2, 6)} {north}, {west} {south}))"
    )
    near = round(min(east - west, north - south) / 2, 6)
    plan: dict[str, tuple[str, dict[str, object]]] = {
        "01_bbox_time_threshold.rq": (
            "bbox_time_threshold",
            {"bbox": aoi, "start": start, "end": end, "variable": var, "threshold": threshold},
        ),
        "02_cells_within_polygon.rq": ("cells_within", {"polygon": triangle}),
        "03_cells_near_point.rq": ("cells_near", {"lon": lon, "lat": lat, "degrees": near}),
        "04_mean_per_cell.rq": ("mean_per_cell", {"variable": var, "bbox": aoi, "start": start, "end": end}),
        "05_variables_with_units.rq": ("variables_with_units", {}),
        "06_time_series_at_point.rq": ("time_series_at", {"lon": lon, "lat": lat, "variable": var}),
    }
    numeric_static = [v.column for v in info.static_variables if v.sql_type != "boolean"]
    if numeric_static:
        static = numeric_static[0]
        above = round(thresholds.get(static, 0.0), 3)
        plan["07_static_threshold_in_polygon.rq"] = (
            "static_threshold_in_polygon",
            {
                "static": static,
                "above": above,
                "polygon": triangle,
                "variable": var,
                "threshold": threshold,
                "start": start,
                "end": end,
            },
        )
        plan["08_mean_where_static_above.rq"] = (
            "mean_where_static_above",
            {"variable": var, "static": static, "above": above, "bbox": aoi, "start": start, "end": end},
        )
    for column, value in classes.items():
        plan["09_cells_of_class_within_polygon.rq"] = (
            "cells_of_class_within",
            {"static": column, "value": int(value), "polygon": triangle},
        )
        break
    return {
        name: Example(BUILDERS[builder](info, **params), builder, params)
        for name, (builder, params) in plan.items()
    }


BUILDERS = {
    f.__name__: f
    for f in (
        bbox_time_threshold,
        cells_within,
        cells_near,
        mean_per_cell,
        variables_with_units,
        time_series_at,
        static_threshold_in_polygon,
        mean_where_static_above,
        cells_of_class_within,
    )
}
