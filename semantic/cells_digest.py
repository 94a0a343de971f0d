"""A fingerprint of everything a cube's cells table is built from.

Reloading a cube usually means new observations on the same grid: a daily rebuild, a reprocessed
variable. The cells (ids, polygons, static layers) are then the same rows as before, and rebuilding
them (polygon parsing, the GiST index, statistics) is a tenth of a whole-cube load for nothing. The
loader stores this digest with the cube and keeps the cells table when the next replace computes the
same one. Everything that decides a cells row is in it: the table layout, the grid, the window, and
the name, column, type and values of every static layer.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from semantic.cube import CubeSelection
from semantic.grid import grid_record

CELLS_LAYOUT = 1  # bump when the cells table's columns or the way rows are computed change
BAND_ROWS = 1024  # static layers are hashed band by band: memory stays bounded on large grids


def cells_digest(sel: CubeSelection) -> str:
    """sha256 (hex) of the cells table this selection produces."""
    row0, row1, col0, col1 = sel.window
    h = hashlib.sha256()
    h.update(
        json.dumps(
            {
                "layout": CELLS_LAYOUT,
                "grid": json.dumps(grid_record(sel.grid), sort_keys=True),
                "window": [row0, row1, col0, col1],
                "static": [[v.name, v.column, v.sql_type] for v in sel.static],
            },
            sort_keys=True,
        ).encode()
    )
    for variable in sel.static:
        h.update(str(sel.dataset[variable.name].dtype).encode())
        for r0 in range(row0, row1, BAND_ROWS):
            band = sel.read(variable.name, slice(r0, min(r0 + BAND_ROWS, row1)), slice(col0, col1))
            h.update(np.ascontiguousarray(band).tobytes())
    return h.hexdigest()
