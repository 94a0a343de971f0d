"""The two figures of the use case, written as PNG files (Agg backend: headless in CI and on workers)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def danger_map(
    lat: np.ndarray, lon: np.ndarray, probability: np.ndarray, day: pd.Timestamp, path: Path
) -> Path:
    """Next-day fire danger on the cube's grid: P(fire) per cell, lat/lon axes, a colour bar, the date."""
    fig, ax = plt.subplots(figsize=(6.4, 5.4), dpi=100)
    mesh = ax.pcolormesh(
        lon,
        lat,
        probability,
        shading="nearest",
        cmap="YlOrRd",
        vmin=0,
        vmax=max(0.05, float(np.nanquantile(probability, 0.995))),
    )
    fig.colorbar(mesh, ax=ax, label="P(fire)")
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    ax.set_aspect(1 / np.cos(np.radians(float(np.mean(lat)))))
    ax.set_title(f"Fire danger for {day:%Y-%m-%d} (next day)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def importance_bars(importance: pd.Series, path: Path, top: int = 15) -> Path:
    """Horizontal bars, most important on top: the drop in held-out ROC AUC per shuffled feature."""
    shown = importance.head(top)[::-1]
    fig, ax = plt.subplots(figsize=(6.4, 0.3 * len(shown) + 1.2), dpi=100)
    ax.barh(shown.index, shown.to_numpy(), color="tab:red")
    ax.set_xlabel("drop in ROC AUC when shuffled (held-out days)")
    ax.set_title("Permutation importance")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
