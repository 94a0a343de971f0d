"""The target time axis and NaN-aware aggregation of observations into periods.

A period is [start_i, start_{i+1}); its label is its start (pandas' `resample(label="left",
closed="left")`). Aggregations skip NaN like pandas does; a period whose observations are all NaN
(or that has none) is NaN, also for `sum` (pandas `min_count=1`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .config import TimeConfig
from .errors import TimeAxisError


def period_starts(time: TimeConfig) -> pd.DatetimeIndex:
    starts = pd.date_range(pd.Timestamp(time.start), pd.Timestamp(time.end), freq=time.frequency)
    if starts.empty:
        raise TimeAxisError(f"time: no {time.frequency} period starts between {time.start} and {time.end}")
    return starts


def period_bounds(starts: pd.DatetimeIndex, frequency: str) -> np.ndarray:
    """The n+1 period edges as datetime64[ns]."""
    offset = pd.tseries.frequencies.to_offset(frequency)
    return np.concatenate([starts.values, [(starts[-1] + offset).to_datetime64()]]).astype("datetime64[ns]")


def assign_periods(times: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Index of the period each time falls in, -1 when outside the axis."""
    times = np.asarray(times, dtype="datetime64[ns]")
    index = np.searchsorted(bounds, times, side="right") - 1
    index[(index < 0) | (index >= bounds.size - 1)] = -1
    return index


def aggregate(data: np.ndarray, periods: np.ndarray, n_periods: int, how: str) -> np.ndarray:
    """Combine observations data[k] (time-ordered) into n_periods slots by `periods[k]`."""
    used = periods >= 0
    if np.unique(periods[used]).size == int(used.sum()):  # at most one observation per period
        if used.all() and np.array_equal(periods, np.arange(n_periods)):
            return data.astype("float32", copy=False)
        out = np.full((n_periods, *data.shape[1:]), np.nan, dtype="float32")
        out[periods[used]] = data[used]
        return out
    out = np.full((n_periods, *data.shape[1:]), np.nan, dtype="float32")
    for p in np.unique(periods[periods >= 0]):
        block = data[periods == p]
        if block.shape[0] == 1:
            out[p] = block[0]
            continue
        with warnings.catch_warnings(), np.errstate(invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            if how == "mean":
                count = (~np.isnan(block)).sum(axis=0)
                total = np.nansum(block, axis=0, dtype="float64")
                out[p] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
            elif how == "max":
                out[p] = np.nanmax(block, axis=0)
            elif how == "min":
                out[p] = np.nanmin(block, axis=0)
            elif how == "sum":
                total = np.nansum(block, axis=0, dtype="float64")
                out[p] = np.where(np.isnan(block).all(axis=0), np.nan, total)
            elif how == "last":
                last = block[0].copy()
                for layer in block[1:]:
                    np.copyto(last, layer, where=~np.isnan(layer))
                out[p] = last
            else:
                raise ValueError(f"unknown aggregation {how!r}")
    return out
