"""Repeated timings for the benchmarks: this host is shared, and one run can be 30% off.

Each benchmark runs a method several times and reports the run with the median time, together with
every run's time, so the noise is visible next to the figure that counts.
"""

from __future__ import annotations


def median_run(runs: list[dict], key: str = "seconds") -> dict:
    """The run with the median `key` (the lower middle one for an even count), plus `all`: every
    run's `key` in the order they ran, and `max_peak_rss`: the largest `peak_rss` if runs report it."""
    if not runs:
        raise ValueError("median_run needs at least one run")
    ordered = sorted(runs, key=lambda run: run[key])
    median = {**ordered[(len(ordered) - 1) // 2], "all": [run[key] for run in runs]}
    if all("peak_rss" in run for run in runs):
        median["max_peak_rss"] = max(run["peak_rss"] for run in runs)
    return median


def listed(seconds: list[float]) -> str:
    """`6.81 6.20 6.12`: every run's time, for the line that reports the median."""
    return " ".join(f"{value:.2f}" for value in seconds)
