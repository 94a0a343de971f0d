"""The shared half of reading: a format supplies only its raw read, and `SourceReader.read` finds the
open handle, keeps the library lock for formats whose library is not thread-safe, gives the first
step when none is asked for, adds the time axis of a timeless variable and decodes into `out`; the
coordinate names every format looks for are found one way."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np
import pytest

from cube_engine.config import SourceConfig, VariableConfig
from cube_engine.errors import SourceError
from cube_engine.grid import Grid
from cube_engine.readers.base import SourceInfo, SourceReader, VariableInfo, Window, axis_names, source_info
from cube_engine.readers.handles import LIBRARY_LOCK, close_all

RAW = np.arange(4 * 5 * 6, dtype="int16").reshape(4, 5, 6) - 3  # steps x rows x cols, -3 is the fill


def _lock_is_held_elsewhere() -> bool:
    """Whether LIBRARY_LOCK is held, as another thread sees it."""
    found = []

    def probe() -> None:
        got = LIBRARY_LOCK.acquire(blocking=False)
        found.append(not got)
        if got:
            LIBRARY_LOCK.release()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return found[0]


class ArrayReader(SourceReader):
    """A format whose "files" are in-memory arrays: it writes only what a new format writes."""

    format: ClassVar[str] = "array"

    def __init__(self, thread_safe: bool, timeless: bool):
        self.thread_safe = thread_safe
        self.timeless = timeless
        self.opened: list[str] = []
        self.calls: list[tuple[slice, Window, bool]] = []

    def claims(self, path: str) -> bool:
        return False

    def discover(self, source: SourceConfig, index: int, files: list[str]) -> SourceInfo:
        raise NotImplementedError

    def open(self, path: str, options: dict[str, Any]) -> Any:
        self.opened.append(path)
        return {"path": path, "data": RAW[0] if self.timeless else RAW}

    def close(self, opened: Any) -> None:
        """Nothing to release."""

    def read_raw(self, opened: Any, variable: VariableInfo, steps: slice, window: Window) -> np.ndarray:
        self.calls.append((steps, window, _lock_is_held_elsewhere()))
        data = opened["data"]
        return data[window] if self.timeless else data[steps, window[0], window[1]]


def _source(reader: ArrayReader) -> tuple[SourceInfo, VariableInfo]:
    config = SourceConfig(name="arrays", paths=["a", "b"], variables=[{"name": "v"}])
    variable = VariableInfo(VariableConfig(name="v"), fill=-3.0, scale_factor=0.5, add_offset=10.0)
    grid = Grid.from_bbox((0, 0, 6, 5), 1.0, "EPSG:4326")
    info = source_info(config, 0, reader.format, grid, ["a", "b"], [0, 1], [0, 0], [0, 0], {"v": variable})
    return info, variable


@pytest.fixture(autouse=True)
def _no_cached_handles():
    close_all()
    yield
    close_all()


@pytest.mark.parametrize("thread_safe", [False, True])
def test_read_holds_the_library_lock_only_for_a_library_that_needs_it(thread_safe):
    reader = ArrayReader(thread_safe, timeless=False)
    info, variable = _source(reader)
    window = (slice(1, 4), slice(2, 5))
    out = np.full((2, 3, 3), -1.0, dtype="float32")
    got = reader.read(info, variable, 1, slice(1, 3), window, out)
    assert got is out  # decoded straight into the caller's buffer
    expected = RAW[1:3, 1:4, 2:5].astype("float32") * np.float32(0.5) + np.float32(10.0)
    np.testing.assert_array_equal(out, expected)
    assert reader.calls == [(slice(1, 3), window, not thread_safe)]
    assert not _lock_is_held_elsewhere()  # released after the read
    reader.read(info, variable, 1, slice(0, 1), window, None)
    assert reader.opened == ["b"]  # the handle cache opened file 1 once


@pytest.mark.parametrize("timeless", [False, True])
def test_read_gives_the_first_step_a_time_axis_and_nan_for_the_fill(timeless):
    reader = ArrayReader(False, timeless=timeless)
    info, variable = _source(reader)
    got = reader.read(info, variable, 0, None, (slice(0, 2), slice(0, 6)), None)
    assert got.dtype == np.float32 and got.shape == (1, 2, 6)
    assert reader.calls[0][0] == slice(0, 1)
    assert np.isnan(got[0, 0, 0])  # -3, the fill value
    np.testing.assert_array_equal(got[0, 0, 1:], RAW[0, 0, 1:] * np.float32(0.5) + np.float32(10.0))
    np.testing.assert_array_equal(got[0, 1], RAW[0, 1] * np.float32(0.5) + np.float32(10.0))


def test_axis_names_keep_the_files_spelling_and_need_x_and_y():
    assert axis_names(["Time", "LAT", "Lon", "t2m"], "w", "f.nc") == ("Lon", "LAT", "Time")
    assert axis_names(["band", "y", "x"], "w", "f.zarr") == ("x", "y", None)
    with pytest.raises(SourceError, match=r"^source 's': no lon/lat or x/y coordinates in f\.nc$"):
        axis_names(["lat", "time", "v"], "source 's'", "f.nc")
