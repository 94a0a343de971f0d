# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # UC3 — next-day fire danger
#
# Daily fire danger from weather (2 m temperature, precipitation, solar radiation), satellite
# (land surface temperature, NDVI, LAI, aerosol optical depth) and static layers (elevation, land
# cover) of a cube. A gradient-boosting model is trained on earlier days and scored on later days
# against two baselines (land-cover climatology, persistence); it then maps the danger for the day
# after the cube's last day.
#
# Inputs come from the environment, as the platform's JupyterHub sets it:
# `UC3_CUBE` (a folder or `s3://bucket/cube.zarr`; S3 credentials from `AWS_SHARED_CREDENTIALS_FILE`
# and `AWS_ENDPOINT_URL`), `UC3_OUT` (where the figures and `metrics.json` go) and
# `DASK_SCHEDULER_ADDRESS` (compute on that Dask cluster; unset: local threads).

# %%
import json
import os
from contextlib import ExitStack
from pathlib import Path

import pandas as pd

from usecases.runtime import compute_on_platform, load_cube
from usecases.uc3_fire_danger import features, model, plots

# %% tags=["parameters"]
CUBE = os.environ.get("UC3_CUBE", "out/demo/cube.zarr")
OUT = os.environ.get("UC3_OUT", "out/uc3")
WINDOW = 3  # days in the rolling means and precipitation sums
TEST_FRACTION = 0.4  # the latest 40 % of days are held out

# %%
out = Path(OUT)
out.mkdir(parents=True, exist_ok=True)
stack = ExitStack()
where = stack.enter_context(compute_on_platform())
print(f"computing on {where}")

# %% [markdown]
# ## The cube and the training table
# Everything stays lazy until `to_frame`, which computes the table in one pass over the cube.

# %%
cube = load_cube(CUBE)
table = features.build_table(cube, window=WINDOW)
names = features.feature_names(table)
frame = features.to_frame(table)
print(f"{cube.sizes['time']} days x {cube.sizes['lat']} x {cube.sizes['lon']} cells -> {len(frame):,} rows, "
      f"{len(names)} features")

# %% [markdown]
# ## Train on earlier days, test on later days

# %%
split = model.time_split(frame, test_fraction=TEST_FRACTION)
clf = model.train(split.train, names)
metrics = model.evaluate(clf, split, names)
metrics["cube"] = CUBE
print(json.dumps({k: metrics[k] for k in ("model", "baselines", "baseline")}, indent=1))

# %% [markdown]
# ## What drives the prediction (permutation importance on held-out days)

# %%
ranking = model.importance(clf, split.test, names)
plots.importance_bars(ranking, out / "feature_importance.png")
metrics["importance"] = {k: float(v) for k, v in ranking.items()}
ranking.head(8)

# %% [markdown]
# ## Fire danger for the day after the cube's last day

# %%
last = pd.Timestamp(split.forecast["time"].max())
rows = split.forecast[split.forecast["time"] == last]
grid = model.danger(clf, rows, names).reshape(cube.sizes["lat"], cube.sizes["lon"])
day = last + pd.Timedelta(days=1)
plots.danger_map(table["lat"].values, table["lon"].values, grid, day, out / "fire_danger_map.png")
metrics["forecast_day"] = f"{day:%Y-%m-%d}"
metrics["forecast_mean_probability"] = float(grid.mean())

# %%
(out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
stack.close()
m, b = metrics["model"], metrics["baselines"][metrics["baseline"]]
print(
    f"UC3 fire danger: ROC AUC {m['roc_auc']:.3f} (baseline {metrics['baseline']} {b['roc_auc']:.3f}), "
    f"PR AUC {m['pr_auc']:.3f} (baseline {b['pr_auc']:.3f}), "
    f"positive rate {metrics['positive_rate_test']:.3f} on {len(metrics['test_days'])} held-out days; "
    f"map: {out / 'fire_danger_map.png'}"
)
