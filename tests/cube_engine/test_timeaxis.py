"""Time aggregation against pandas resample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cube_engine.config import TimeConfig
from cube_engine.timeaxis import aggregate, assign_periods, period_bounds, period_starts


@pytest.mark.parametrize("how", ["mean", "max", "min", "sum", "last"])
@pytest.mark.parametrize("freq", ["1D", "3D", "12h"])
def test_aggregation_matches_pandas_resample(how, freq):
    rng = np.random.default_rng(3)
    times = pd.DatetimeIndex(
        np.sort(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 9 * 24, 40), "h"))
    )
    values = rng.normal(0, 1, (40, 2, 3)).astype("float32")
    values[rng.random(values.shape) < 0.3] = np.nan
    values[5:8, 0, 0] = np.nan
    cfg = TimeConfig(start="2024-01-01", end="2024-01-09 12:00", frequency=freq, aggregation=how)
    starts = period_starts(cfg)
    periods = assign_periods(times.values, period_bounds(starts, freq))
    out = aggregate(values, periods, len(starts), how)
    for j in range(2):
        for k in range(3):
            series = pd.Series(values[:, j, k].astype("float64"), index=times)
            resampler = series.resample(freq, origin=pd.Timestamp("2024-01-01"), label="left", closed="left")
            expected = resampler.sum(min_count=1) if how == "sum" else getattr(resampler, how)()
            expected = expected.reindex(starts)
            np.testing.assert_allclose(out[:, j, k], expected.values, rtol=1e-5, equal_nan=True)


def test_observations_outside_the_axis_are_dropped():
    starts = pd.date_range("2024-01-02", "2024-01-03", freq="1D")
    bounds = period_bounds(starts, "1D")
    times = np.array(
        ["2024-01-01T12", "2024-01-02T00", "2024-01-03T23", "2024-01-04T00"], dtype="datetime64[ns]"
    )
    assert assign_periods(times, bounds).tolist() == [-1, 0, 1, -1]
