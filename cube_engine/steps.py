"""Which time steps a run writes.

`gen` writes the config's periods from `time.start` to `time.end`; with no `time.end` (an
open-ended axis) up to the period holding the latest observation of the sources.

`append` continues the cube: the config's periods after the cube's last step, up to `time.end` (or
open-ended), and never past the last period that holds an observation. So the config the cube was
built from is also the append config: run again later, it adds exactly what arrived since, and
nothing new is not an error. The last period is appended as the sources hold it at that moment;
observations arriving later for a period already in the cube are not added (use periods that are
complete when their files arrive, or rebuild with `gen`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import CubeConfig, TimeConfig
from .errors import TimeAxisError
from .sources import SourceInfo, discover
from .timeaxis import assign_periods, period_bounds


def discover_all(config: CubeConfig) -> list[SourceInfo]:
    """Discover every source once (validates them all before anything is written)."""
    return [discover(source, index) for index, source in enumerate(config.sources)]


def observation_times(infos: list[SourceInfo]) -> np.ndarray:
    """Every observation time of the time-dependent sources (datetime64[ns], unsorted)."""
    times = [np.asarray(i.obs_time, dtype="datetime64[ns]") for i in infos if not i.static]
    return np.concatenate(times) if times else np.array([], dtype="datetime64[ns]")


def _label(ts: pd.Timestamp) -> str:
    return str(ts.date()) if ts == ts.normalize() else ts.isoformat()


def gen_starts(time: TimeConfig, infos: list[SourceInfo]) -> pd.DatetimeIndex:
    """The period starts of a whole cube."""
    start = pd.Timestamp(time.start)
    if time.end is not None:
        end = pd.Timestamp(time.end)
    else:
        obs = observation_times(infos)
        if not obs.size or pd.Timestamp(obs.max()) < start:
            latest = f" (the latest is {_label(pd.Timestamp(obs.max()))})" if obs.size else ""
            raise TimeAxisError(f"time.start: no observation of any source at or after {time.start}{latest}")
        end = pd.Timestamp(obs.max())
    starts = pd.date_range(start, end, freq=time.frequency)
    if starts.empty:
        raise TimeAxisError(f"time: no {time.frequency} period starts between {time.start} and {time.end}")
    return starts


def append_starts(
    time: TimeConfig, cube_times: pd.DatetimeIndex, infos: list[SourceInfo]
) -> pd.DatetimeIndex:
    """The period starts an append adds after `cube_times[-1]` (empty when nothing is new)."""
    last = cube_times[-1]
    start = pd.Timestamp(time.start)
    if start <= last:
        own = pd.date_range(start, last, freq=time.frequency)
        if own.empty or own[-1] != last:
            raise TimeAxisError(
                f"time: the cube's last step {_label(last)} is not a period start of the config's axis "
                f"(start {time.start}, frequency {time.frequency}); append continues that axis"
            )
    obs = observation_times(infos)
    empty = pd.DatetimeIndex([])
    if not obs.size:
        return empty
    end = pd.Timestamp(time.end) if time.end is not None else pd.Timestamp(obs.max())
    candidates = pd.date_range(start, end, freq=time.frequency)
    new = candidates[candidates > last]
    if new.empty:
        return empty
    periods = assign_periods(obs, period_bounds(new, time.frequency))
    if not (periods >= 0).any():
        return empty
    return new[: int(periods.max()) + 1]


def describe_nothing_new(target: str, time: TimeConfig, cube_times: pd.DatetimeIndex) -> str:
    until = f"up to time.end {time.end}" if time.end is not None else "(time.end: open)"
    return (
        f"Nothing to append to {target}: the sources hold no observation after its last step "
        f"{_label(cube_times[-1])} {until}; the cube is unchanged."
    )
