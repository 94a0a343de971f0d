"""The binary COPY encoder against a plain reference: field by field, NULLs with no value bytes."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from semantic import copy_buffers, dtypes


def reference_rows(fields_per_row: list[list[tuple[str, object]]]) -> bytes:
    """One tuple at a time with struct: what the numpy encoder must produce byte for byte."""
    out = bytearray()
    for fields in fields_per_row:
        out += struct.pack(">h", len(fields))
        for fmt, value in fields:
            if value is None:
                out += struct.pack(">i", -1)
            else:
                out += struct.pack(">i", struct.calcsize(fmt)) + struct.pack(fmt, value)
    return bytes(out)


@pytest.fixture(params=["cut", "mask"])
def null_strategy(request, monkeypatch) -> str:
    """Both ways of dropping NULL value bytes: cutting around each NULL, or one mask over the bytes."""
    monkeypatch.setattr(copy_buffers, "CUT_BYTES_PER_NULL", 0 if request.param == "cut" else 10**9)
    return request.param


def test_observation_rows_match_the_reference_with_nulls_anywhere(null_strategy):
    rng = np.random.default_rng(3)
    nt, ncells = 3, 7
    cell_ids = np.arange(ncells, dtype=np.int64) * 5 + 2
    times = np.array(["1999-12-31T23:00", "2020-01-01", "2020-02-29T12:34:56.000001"], dtype="datetime64[us]")
    values = [rng.normal(size=(nt, ncells)).astype(np.float32) for _ in range(3)]
    values[0][0, 0] = values[1][0, 0] = values[2][2, 6] = np.nan  # first and last fields of the buffer
    values[1][1, :] = np.nan
    pg_times = copy_buffers.pg_timestamps(times)
    expected = reference_rows(
        [
            [(">q", int(cell_ids[c])), (">q", int(pg_times[t]))]
            + [(">f", None if np.isnan(v[t, c]) else float(v[t, c])) for v in values]
            for t in range(nt)
            for c in range(ncells)
        ]
    )
    template = copy_buffers.observation_template(cell_ids, 3)
    assert bytes(copy_buffers.observation_rows(cell_ids, times, values)) == expected
    assert bytes(copy_buffers.observation_rows(cell_ids, times, values, template)) == expected
    clean = [np.nan_to_num(v) for v in values]
    assert isinstance(copy_buffers.observation_rows(cell_ids, times, clean, template), memoryview)


def test_observation_rows_without_the_time_field(null_strategy):
    cell_ids = np.array([4, 9], dtype=np.int64)
    values = [np.array([[1.5, np.nan]], dtype=np.float32), np.array([[np.nan, -2.0]], dtype=np.float32)]
    expected = reference_rows(
        [[(">q", 4), (">f", 1.5), (">f", None)], [(">q", 9), (">f", None), (">f", -2.0)]]
    )
    assert bytes(copy_buffers.observation_rows(cell_ids, None, values)) == expected
    template = copy_buffers.observation_template(cell_ids, 2, with_time=False)
    assert bytes(copy_buffers.observation_rows(cell_ids, None, values, template)) == expected
    with pytest.raises(ValueError, match="disagree on the time field"):
        times = np.array(["2020-01-01"], dtype="datetime64[us]")
        copy_buffers.observation_rows(cell_ids, times, values, template)


def test_cell_rows_drop_nulls_of_mixed_widths(null_strategy):
    n = 4
    ids, rows, cols = np.arange(n, dtype=np.int64), np.zeros(n, np.int32), np.arange(n, dtype=np.int32)
    lon = np.array([[0.0, 1, 2, 3, 4], [0, 1, 2, 3, 4]])
    lat = np.array([[1.0] * 5, [0.0] * 5])
    dem = np.array([[1.5, np.nan, 3.0, np.nan]])  # double precision
    ndvi = np.array([[np.nan, 0.5, np.nan, 0.25]], dtype=np.float32)  # real
    classes = np.array([[1, 2, 3, 4]], dtype=np.int16)
    static = [(dtypes.DOUBLE, dem), (dtypes.REAL, ndvi), (dtypes.SMALLINT, classes)]
    encoded = bytes(copy_buffers.cell_rows(ids, rows, cols, lon, lat, static))
    plain = bytes(copy_buffers.cell_rows(ids, rows, cols, lon, lat))
    size = len(plain) // n
    expected = b""
    for i in range(n):
        head = struct.pack(">h", 7) + plain[i * size + 2 : (i + 1) * size]
        tail = reference_rows(
            [
                [
                    (">d", None if np.isnan(dem[0, i]) else float(dem[0, i])),
                    (">f", None if np.isnan(ndvi[0, i]) else float(ndvi[0, i])),
                    (">h", int(classes[0, i])),
                ]
            ]
        )[2:]
        expected += head + tail
    assert encoded == expected
