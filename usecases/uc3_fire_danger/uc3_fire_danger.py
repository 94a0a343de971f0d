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
# `DASK_SCHEDULER_ADDRESS` (compute on that Dask cluster; unset: local threads) and `UC3_MAX_ROWS`
# (the most rows brought into the notebook; a larger table is sampled on the workers, see below).

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
MAX_ROWS = features.parse_max_rows(os.environ.get("UC3_MAX_ROWS", "5000000"))  # rows in the notebook
SAMPLE_SEED = 0  # which rows a sample keeps (same seed, same rows, however the cube is chunked)

# %%
out = Path(OUT)
out.mkdir(parents=True, exist_ok=True)
stack = ExitStack()
where = stack.enter_context(compute_on_platform())
print(f"computing on {where}")

# %% [markdown]
# ## The cube and the training table
# Everything stays lazy until `to_frame`, which computes the table in one pass over the cube. A table
# with more cell-days than `MAX_ROWS` is sampled on the workers instead: every fire row and the
# fraction of the other rows that brings the expected count to `MAX_ROWS`, each weighted by the
# inverse of its chance to be kept, so training, scores and rates stand for every row.

# %%
cube = load_cube(CUBE)
table = features.build_table(cube, window=WINDOW)
names = features.feature_names(table)
fraction = features.sampling_fraction(table, MAX_ROWS)
if fraction is None:
    sample, frame = None, features.to_frame(table)
    sampling = {"sampled": False, "rows_total": int(frame["target"].notna().sum())}
    print(f"{features.cell_days(table):,} cell-days, at most MAX_ROWS={MAX_ROWS:,}: every row is used")
else:
    sample = features.to_sampled_frame(table, fraction, seed=SAMPLE_SEED)
    frame, sampling = sample.frame, sample.describe()
    print(
        f"{features.cell_days(table):,} cell-days, over MAX_ROWS={MAX_ROWS:,}: sampled on the workers, "
        f"every fire row and {fraction:.2%} of the others (seed {SAMPLE_SEED}), "
        f"{len(frame):,} of {sample.rows_total:,} rows kept, weights 1 and {1 / fraction:.4g}"
    )
sampling["max_rows"] = MAX_ROWS
print(
    f"{cube.sizes['time']} days x {cube.sizes['lat']} x {cube.sizes['lon']} cells -> {len(frame):,} rows, "
    f"{len(names)} features"
)

# %% [markdown]
# ## Train on earlier days, test on later days

# %%
split = model.time_split(frame, test_fraction=TEST_FRACTION)
clf = model.train(split.train, names)
metrics = model.evaluate(clf, split, names)
metrics["cube"] = CUBE
metrics["sampling"] = sampling
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
# A sample holds no forecast rows (their target is unknown): the last day is computed on its own.
forecast = split.forecast if sample is None else features.to_frame(table.isel(time=slice(-1, None)))
last = pd.Timestamp(forecast["time"].max())
rows = forecast[forecast["time"] == last]
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
