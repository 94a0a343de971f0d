"""`writer.reshaped_view`: an append writes chunks beyond an array's stored shape without changing
its metadata. It is built from zarr's public pieces; a zarr upgrade that removes one fails here."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest
import zarr

from cube_engine.writer import reshaped_view


def test_the_zarr_pieces_the_view_is_built_from_exist():
    assert isinstance(inspect.getattr_static(zarr.Array, "async_array"), property)
    assert {"metadata", "store_path", "config"} <= set(inspect.signature(zarr.AsyncArray).parameters)
    array = zarr.create_array(store={}, shape=(2, 3), chunks=(1, 3), dtype="float32")
    assert {"metadata", "store_path", "config"} <= set(vars(array.async_array))


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_a_reshaped_view_writes_beyond_the_stored_shape_and_keeps_its_metadata(tmp_path, zarr_format):
    path = tmp_path / "a.zarr"
    array = zarr.create_array(
        store=str(path),
        shape=(2, 4),
        chunks=(2, 4),
        dtype="float32",
        fill_value=np.nan,
        zarr_format=zarr_format,
    )
    array[:] = 1.0
    meta = path / (".zarray" if zarr_format == 2 else "zarr.json")
    before = json.loads(meta.read_text())
    view = reshaped_view(zarr.open_array(str(path), mode="r+"), (4, 4))
    assert view.shape == (4, 4)
    view[2:4] = 2.0
    assert json.loads(meta.read_text()) == before  # the stored shape is still (2, 4)
    stored = zarr.open_array(str(path), mode="r+")
    assert stored.shape == (2, 4)
    stored.resize((4, 4))
    np.testing.assert_array_equal(stored[:], np.array([[1.0] * 4] * 2 + [[2.0] * 4] * 2, dtype="float32"))
