"""Hand-written PostGIS SQL twins of the example catalogue (`semantic.queries`), built from the same
parameters each catalogue entry records, and the comparison of a SPARQL answer with its twin.

Used by the golden tests (on a small cube) and by the semantic bench (on the full demo cube).
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal

UTC_TEXT = 'to_char(o.time, \'YYYY-MM-DD"T"HH24:MI:SS"Z"\')'


def _when(start: datetime | None, end: datetime | None) -> str:
    parts = []
    if start is not None:
        parts.append(f"o.time >= '{start.isoformat(sep=' ')}'")
    if end is not None:
        parts.append(f"o.time <= '{end.isoformat(sep=' ')}'")
    return "".join(f" AND {p}" for p in parts)


def _envelope(bbox) -> str:
    return f"ST_MakeEnvelope({bbox[0]}, {bbox[1]}, {bbox[2]}, {bbox[3]}, 4326)"


def _polygon(wkt: str) -> str:
    return f"ST_GeomFromText('{wkt}', 4326)"


def twin(cube_id: str, builder: str, params: dict) -> str:
    """The SQL whose rows the catalogue entry's SPARQL answer must equal (after `comparable`)."""
    cells, obs = f'deepcube."cells_{cube_id}"', f'deepcube."obs_{cube_id}"'
    p = params
    if builder == "bbox_time_threshold":
        return f"""
            SELECT c.cell_id, {UTC_TEXT}, o."{p["variable"]}"::float8, ST_AsText(c.geom)
            FROM {cells} c JOIN {obs} o USING (cell_id)
            WHERE ST_Intersects(c.geom, {_envelope(p["bbox"])}) AND o."{p["variable"]}" > {p["threshold"]}
              {_when(p["start"], p["end"])}
            ORDER BY 1, 2"""
    if builder == "cells_within":
        return f"""
            SELECT cell_id, "row", col, ST_AsText(geom) FROM {cells}
            WHERE ST_Within(geom, {_polygon(p["polygon"])}) ORDER BY 1"""
    if builder == "cells_near":
        point = f"ST_Point({p['lon']}, {p['lat']}, 4326)"
        return f"""
            SELECT cell_id, ST_Distance(geom, {point}), ST_AsText(geom) FROM {cells}
            WHERE ST_Distance(geom, {point}) < {p["degrees"]} ORDER BY 2, 1"""
    if builder == "mean_per_cell":
        v = f'o."{p["variable"]}"'
        return f"""
            SELECT c.cell_id, ST_AsText(c.geom), avg({v}), min({v})::float8, max({v})::float8, count({v})
            FROM {cells} c JOIN {obs} o USING (cell_id)
            WHERE ST_Intersects(c.geom, {_envelope(p["bbox"])}) AND {v} IS NOT NULL
              {_when(p.get("start"), p.get("end"))}
            GROUP BY c.cell_id, c.geom ORDER BY 1"""
    if builder == "variables_with_units":
        return f"""
            SELECT name, units, long_name, static FROM deepcube.cube_variable
            WHERE cube_id = '{cube_id}' ORDER BY name"""
    if builder == "time_series_at":
        v = f'o."{p["variable"]}"'
        return f"""
            SELECT {UTC_TEXT}, {v}::float8 FROM {cells} c JOIN {obs} o USING (cell_id)
            WHERE ST_Contains(c.geom, ST_Point({p["lon"]}, {p["lat"]}, 4326)) AND {v} IS NOT NULL
            ORDER BY 1"""
    if builder == "static_threshold_in_polygon":
        s, v = f'c."{p["static"]}"', f'o."{p["variable"]}"'
        return f"""
            SELECT c.cell_id, {s}, {UTC_TEXT}, {v}::float8, ST_AsText(c.geom)
            FROM {cells} c JOIN {obs} o USING (cell_id)
            WHERE {s} > {p["above"]} AND {v} > {p["threshold"]}
              AND ST_Within(c.geom, {_polygon(p["polygon"])}) {_when(p.get("start"), p.get("end"))}
            ORDER BY 1, 3"""
    if builder == "mean_where_static_above":
        s, v = f'c."{p["static"]}"', f'o."{p["variable"]}"'
        spatial = f" AND ST_Intersects(c.geom, {_envelope(p['bbox'])})" if p.get("bbox") else ""
        return f"""
            SELECT avg({v}), count({v}), count(DISTINCT c.cell_id)
            FROM {cells} c JOIN {obs} o USING (cell_id)
            WHERE {s} > {p["above"]} AND {v} IS NOT NULL{spatial} {_when(p.get("start"), p.get("end"))}"""
    if builder == "cells_of_class_within":
        return f"""
            SELECT cell_id, ST_AsText(geom) FROM {cells}
            WHERE "{p["static"]}" = {p["value"]} AND ST_Within(geom, {_polygon(p["polygon"])}) ORDER BY 1"""
    raise KeyError(builder)


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str) and "/cell/" in value and value.rsplit("/", 1)[1].isdigit():
        return int(value.rsplit("/", 1)[1])  # a cell IRI: its id
    return value


def _key(row: tuple) -> tuple:
    return tuple(
        (2, 0.0, "")
        if v is None
        else (0, round(float(v), 9), "")
        if isinstance(v, (int, float)) and not isinstance(v, bool)
        else (1, 0.0, str(v))
        for v in row
    )


def ordered(rows) -> list[tuple]:
    """Rows in one canonical order (SPARQL orders cell IRIs as text, SQL cell ids as numbers)."""
    return sorted((tuple(_plain(v) for v in row) for row in rows), key=_key)


def comparable(builder: str, sparql_rows: list[list]) -> list[tuple]:
    """SPARQL rows in the twin's column layout (cell IRIs as ids), in canonical order."""
    rows = [tuple(_plain(v) for v in row) for row in sparql_rows]
    if builder == "variables_with_units":
        rows = [(n, u, label, s in (True, "true")) for n, u, label, s in rows]
    return ordered(rows)


def equal(a: list[tuple], b: list[tuple], rel: float = 1e-9) -> bool:
    """Row lists equal, floats within `rel` (float4 measures averaged two ways differ in the 8th digit)."""
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        if len(ra) != len(rb):
            return False
        for x, y in zip(ra, rb, strict=True):
            x, y = _plain(x), _plain(y)
            if isinstance(x, float) or isinstance(y, float):
                if x is None or y is None or not math.isclose(float(x), float(y), rel_tol=rel, abs_tol=1e-12):
                    return False
            elif x != y:
                return False
    return True
