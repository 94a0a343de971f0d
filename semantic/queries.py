"""The catalogue of example GeoSPARQL queries, as functions of explicit parameters.

The same builders write the catalogue files (parameters chosen from the cube's extent) and drive the
golden tests (parameters chosen by the test), so what users copy is what the tests prove.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from semantic.registry import CubeInfo
from semantic.vocabulary import prefixes, sparql_prefixes

Bbox = tuple[float, float, float, float]


def _head(info: CubeInfo, comment: str) -> str:
    lines = "".join(f"# {line}\n" for line in comment.strip().splitlines())
    return f"{lines}{sparql_prefixes(prefixes(info.id))}\n"


def _dt(value: datetime) -> str:
    return f'"{value.strftime("%Y-%m-%dT%H:%M:%S")}"^^xsd:dateTime'


def bbox_polygon(bbox: Bbox) -> str:
    w, s, e, n = bbox
    return f"POLYGON(({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))"


def wkt(text: str) -> str:
    return f'"{text}"^^geo:wktLiteral'


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


def mean_per_cell(info: CubeInfo, variable: str, bbox: Bbox) -> str:
    return (
        _head(info, f"Per cell in a bbox: mean, min, max and count of {variable} over time.")
        + f"""\
SELECT ?cell ?wkt (AVG(?value) AS ?mean) (MIN(?value) AS ?min) (MAX(?value) AS ?max) (COUNT(?value) AS ?n)
WHERE {{
  ?obs dc:cell ?cell ; cv:{variable} ?value .
  ?cell geo:hasGeometry/geo:asWKT ?wkt .
  FILTER(geof:sfIntersects(?wkt, {wkt(bbox_polygon(bbox))}))
}}
GROUP BY ?cell ?wkt
ORDER BY ?cell
"""
    )


def variables_with_units(info: CubeInfo) -> str:
    unions = "\n  UNION\n".join(
        f'  {{ ?subject cv:{v.column} ?value . BIND("{v.name}" AS ?name) }}'
        for v in (*info.variables, *info.static_variables)
    )
    return (
        _head(
            info,
            "Per variable: its units, label, number of values and mean over the cube\n"
            "(static layers: over the cells).",
        )
        + f"""\
SELECT ?name ?units ?label (COUNT(?value) AS ?n) (AVG(?value) AS ?mean) WHERE {{
{unions}
  ?var a dc:Variable ; dc:variableName ?name ; dc:unitsOf ?units ; rdfs:label ?label .
}}
GROUP BY ?name ?units ?label
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
    info: CubeInfo, static: str, above: float, polygon: str, variable: str, threshold: float
) -> str:
    """Static layer and observations together: the question static layers were loaded for."""
    return (
        _head(
            info,
            f"Cells within a polygon whose {static} > {above}, with their observations where "
            f"{variable} > {threshold}.",
        )
        + f"""\
SELECT ?cell ?{static} ?time ?value ?wkt WHERE {{
  ?cell a dc:Cell ; cv:{static} ?{static} ; geo:hasGeometry/geo:asWKT ?wkt .
  FILTER(?{static} > {above})
  FILTER(geof:sfWithin(?wkt, {wkt(polygon)}))
  ?obs dc:cell ?cell ; dc:time ?time ; cv:{variable} ?value .
  FILTER(?value > {threshold})
}}
ORDER BY ?cell ?time
"""
    )


def mean_where_static_above(info: CubeInfo, variable: str, static: str, above: float) -> str:
    return (
        _head(info, f"Mean and count of {variable} over all times, in cells whose {static} > {above}.")
        + f"""\
SELECT (AVG(?value) AS ?mean) (COUNT(?value) AS ?n) (COUNT(DISTINCT ?cell) AS ?cells) WHERE {{
  ?cell cv:{static} ?s .
  FILTER(?s > {above})
  ?obs dc:cell ?cell ; cv:{variable} ?value .
}}
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


def example_queries(info: CubeInfo, thresholds: dict[str, float] | None = None) -> dict[str, str]:
    """The catalogue written by `semantic mapping`, with parameters taken from the cube's extent."""
    west, south, east, north = info.bbox()
    dx, dy = (east - west), (north - south)
    inner = (west + dx / 4, south + dy / 4, east - dx / 4, north - dy / 4)
    inner = tuple(round(v, 6) for v in inner)
    lon, lat = round(west + dx * 0.37, 6), round(south + dy * 0.41, 6)
    start = info.time_start or datetime(1970, 1, 1)
    end = info.time_end or start
    first_days_end = min(end, start + timedelta(days=7))
    var = info.variables[0].column
    threshold = round((thresholds or {}).get(var, 0.0), 3)
    triangle = (
        f"POLYGON(({inner[0]} {inner[1]}, {inner[2]} {inner[1]}, {round((inner[0] + inner[2]) / 2, 6)} "
        f"{inner[3]}, {inner[0]} {inner[1]}))"
    )
    near = round(max(dx, dy) / 8, 6)
    catalogue = {
        "01_bbox_time_threshold.rq": bbox_time_threshold(info, inner, start, first_days_end, var, threshold),
        "02_cells_within_polygon.rq": cells_within(info, triangle),
        "03_cells_near_point.rq": cells_near(info, lon, lat, near),
        "04_mean_per_cell.rq": mean_per_cell(info, var, inner),
        "05_variables_with_units.rq": variables_with_units(info),
        "06_time_series_at_point.rq": time_series_at(info, lon, lat, var),
    }
    numeric_static = [v.column for v in info.static_variables if v.sql_type != "boolean"]
    if numeric_static:
        static = numeric_static[0]
        above = round((thresholds or {}).get(static, 0.0), 3)
        catalogue["07_static_threshold_in_polygon.rq"] = static_threshold_in_polygon(
            info, static, above, triangle, var, threshold
        )
        catalogue["08_mean_where_static_above.rq"] = mean_where_static_above(info, var, static, above)
    return catalogue
