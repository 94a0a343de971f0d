"""Train a gradient-boosting classifier on earlier days, score it on later days against baselines.

The split is by time (no day in both sets): neighbouring cells on one day share weather, so a random
row split would leak the test days' weather into training and overstate skill.

A frame with a `weight` column (`features.to_sampled_frame`: every fire row, a fraction of the
others) is fitted, scored and summarised with those weights, so the scores and positive rates stand
for all the rows the sample was drawn from; a frame without one counts every row once.
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


def weights(frame: pd.DataFrame) -> np.ndarray | None:
    """The rows' sampling weights, or None when the frame holds every row (each counts once)."""
    return frame["weight"].to_numpy() if "weight" in frame else None


def positive_rate(frame: pd.DataFrame) -> float:
    """The fire rate of the rows the frame stands for (weighted when they were sampled)."""
    return float(np.average(frame["target"].to_numpy("float64"), weights=weights(frame)))


def train(train: pd.DataFrame, features: list[str], seed: int = 0) -> HistGradientBoostingClassifier:
    """A small gradient-boosting model; NaN (clouds, outside a product's footprint) is handled natively
    and land cover is categorical, so no imputation or encoding step can drift between fit and use.
    Sampling weights, when present, restore the fire rate the sample under-represents."""
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
        return model.fit(
            train[features].to_numpy(), train["target"].to_numpy().astype(int), sample_weight=weights(train)
        )


def climatology(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Baseline: the training period's fire rate of the cell's land-cover class (smoothed towards the
    overall rate so rare classes do not get 0 or 1); sums of sampling weights stand in for counts."""
    prior, weight = positive_rate(train), 50.0
    w = weights(train)
    w = np.ones(len(train)) if w is None else w
    fires = train["target"].to_numpy("float64") * w
    by_class = pd.DataFrame({"sum": fires, "count": w}).groupby(train["land_cover"].to_numpy()).sum()
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
    def of(cls, y: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None) -> Scores:
        """Scores of the ranking `p`; with sampling weights, those of all the rows sampled from."""
        return cls(
            float(roc_auc_score(y, p, sample_weight=weight)),
            float(average_precision_score(y, p, sample_weight=weight)),
        )


def evaluate(model: HistGradientBoostingClassifier, split: Split, features: list[str]) -> dict[str, object]:
    """Held-out scores of the model and both baselines; `baseline` is the better baseline by ROC AUC
    (the bar the model has to clear). The positive rates are stated so PR AUC can be read against
    them (a random ranking's PR AUC equals the positive rate). On sampled rows every score and rate
    is weighted, so it estimates the value on all held-out rows; `rows_*` count the rows used."""
    y = split.test["target"].to_numpy().astype(int)
    w = weights(split.test)
    p = danger(model, split.test, features)
    model_scores = Scores.of(y, p, w)
    baselines = {
        "climatology": Scores.of(y, climatology(split.train, split.test), w),
        "persistence": Scores.of(y, persistence(split.test), w),
    }
    best = max(baselines, key=lambda name: baselines[name].roc_auc)
    return {
        "model": {"name": "HistGradientBoostingClassifier", **asdict(model_scores)},
        "baselines": {name: asdict(s) for name, s in baselines.items()},
        "baseline": best,
        "roc_auc_gain": model_scores.roc_auc - baselines[best].roc_auc,
        "positive_rate_train": positive_rate(split.train),
        "positive_rate_test": positive_rate(split.test),
        "weighted": w is not None,
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
    model: HistGradientBoostingClassifier,
    test: pd.DataFrame,
    features: list[str],
    rows: int = 10000,
    seed: int = 0,
) -> pd.Series:
    """Permutation importance (drop in held-out ROC AUC when one feature is shuffled), on a sample
    of test rows: model-agnostic and measured where it matters, on days the model never saw (the
    sample is uniform over the rows given, so their sampling weights still apply)."""
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
            sample_weight=weights(sample),
        )
    return pd.Series(result.importances_mean, index=features).sort_values(ascending=False)


def danger(model: HistGradientBoostingClassifier, rows: pd.DataFrame, features: list[str]) -> np.ndarray:
    """P(fire tomorrow) per row."""
    with _threads():
        return model.predict_proba(rows[features].to_numpy())[:, 1]
