"""Train a gradient-boosting classifier on earlier days, score it on later days against baselines.

The split is by time (no day in both sets): neighbouring cells on one day share weather, so a random
row split would leak the test days' weather into training and overstate skill.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score, roc_auc_score
from threadpoolctl import threadpool_limits

from .features import CATEGORICAL


def _threads() -> threadpool_limits:
    """Cap scikit-learn's OpenMP threads at half the cores (`UC3_THREADS` overrides): OpenMP threads
    spin while they wait, so on a shared machine (a JupyterLab server beside Dask workers, CI) a full
    team runs several times slower than a smaller one (measured here on 2 busy cores: training 5 s
    with 1 thread, 39 s with 2)."""
    n = int(os.environ.get("UC3_THREADS", 0)) or max(1, (os.cpu_count() or 1) // 2)
    return threadpool_limits(limits=n, user_api="openmp")


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    forecast: pd.DataFrame  # the last day: features known, next day not yet observed


def time_split(frame: pd.DataFrame, test_fraction: float = 0.4) -> Split:
    """Earlier days train, later days test (at least one day each); the day without a target is kept
    apart as the one to forecast."""
    known = frame[frame["target"].notna()]
    days = np.sort(known["time"].unique())
    if len(days) < 2:
        raise ValueError(f"need at least 2 days with a next-day target, found {len(days)}")
    n_test = min(len(days) - 1, max(1, round(len(days) * test_fraction)))
    cut = days[-n_test]
    return Split(known[known["time"] < cut], known[known["time"] >= cut], frame[frame["target"].isna()])


def train(train: pd.DataFrame, features: list[str], seed: int = 0) -> HistGradientBoostingClassifier:
    """A small gradient-boosting model; NaN (clouds, outside a product's footprint) is handled natively
    and land cover is categorical, so no imputation or encoding step can drift between fit and use."""
    model = HistGradientBoostingClassifier(
        max_iter=120,
        learning_rate=0.1,
        max_leaf_nodes=31,
        min_samples_leaf=100,
        l2_regularization=1.0,
        categorical_features=[f in CATEGORICAL for f in features],
        early_stopping=False,
        random_state=seed,
    )
    with _threads():
        return model.fit(train[features].to_numpy(), train["target"].to_numpy().astype(int))


def climatology(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Baseline: the training period's fire rate of the cell's land-cover class (smoothed towards the
    overall rate so rare classes do not get 0 or 1)."""
    prior, weight = train["target"].mean(), 50.0
    by_class = train.groupby("land_cover")["target"].agg(["sum", "count"])
    rate = (by_class["sum"] + weight * prior) / (by_class["count"] + weight)
    return test["land_cover"].map(rate).fillna(prior).to_numpy()


def persistence(test: pd.DataFrame) -> np.ndarray:
    """Baseline: fire today in the cell means fire tomorrow."""
    return test["fire_today"].fillna(0).to_numpy()


@dataclass(frozen=True)
class Scores:
    roc_auc: float
    pr_auc: float

    @classmethod
    def of(cls, y: np.ndarray, p: np.ndarray) -> Scores:
        return cls(float(roc_auc_score(y, p)), float(average_precision_score(y, p)))


def evaluate(
    model: HistGradientBoostingClassifier, split: Split, features: list[str]
) -> dict[str, object]:
    """Held-out scores of the model and both baselines; `baseline` is the better baseline by ROC AUC
    (the bar the model has to clear). The positive rates are stated so PR AUC can be read against
    them (a random ranking's PR AUC equals the positive rate)."""
    y = split.test["target"].to_numpy().astype(int)
    p = danger(model, split.test, features)
    model_scores = Scores.of(y, p)
    baselines = {
        "climatology": Scores.of(y, climatology(split.train, split.test)),
        "persistence": Scores.of(y, persistence(split.test)),
    }
    best = max(baselines, key=lambda name: baselines[name].roc_auc)
    return {
        "model": {"name": "HistGradientBoostingClassifier", **asdict(model_scores)},
        "baselines": {name: asdict(s) for name, s in baselines.items()},
        "baseline": best,
        "roc_auc_gain": model_scores.roc_auc - baselines[best].roc_auc,
        "positive_rate_train": float(split.train["target"].mean()),
        "positive_rate_test": float(y.mean()),
        "rows_train": len(split.train),
        "rows_test": len(split.test),
        "train_days": _days(split.train),
        "test_days": _days(split.test),
        "features": features,
    }


def _days(frame: pd.DataFrame) -> list[str]:
    """Target days (the day after each feature day), as ISO dates."""
    days = pd.DatetimeIndex(np.sort(frame["time"].unique())) + pd.Timedelta(days=1)
    return [f"{d:%Y-%m-%d}" for d in days]


def importance(
    model: HistGradientBoostingClassifier, test: pd.DataFrame, features: list[str], rows: int = 10000,
    seed: int = 0,
) -> pd.Series:
    """Permutation importance (drop in held-out ROC AUC when one feature is shuffled), on a sample
    of test rows: model-agnostic and measured where it matters, on days the model never saw."""
    sample = test.sample(min(rows, len(test)), random_state=seed)
    with _threads():
        result = permutation_importance(
            model,
            sample[features].to_numpy(),
            sample["target"].to_numpy().astype(int),
            scoring="roc_auc",
            n_repeats=3,
            random_state=seed,
            n_jobs=1,
        )
    return pd.Series(result.importances_mean, index=features).sort_values(ascending=False)


def danger(model: HistGradientBoostingClassifier, rows: pd.DataFrame, features: list[str]) -> np.ndarray:
    """P(fire tomorrow) per row."""
    with _threads():
        return model.predict_proba(rows[features].to_numpy())[:, 1]
