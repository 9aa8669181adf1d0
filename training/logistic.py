"""The scikit-learn baseline: logistic regression on the primary action.

Missing values are imputed with training medians and inputs standardised; features
are signed-log compressed first, since counts and amounts span orders of magnitude.
At scoring, a value outside the range training saw is clipped to it: a linear model
extrapolates without bound, and a feature constant in training (every user's tenure on
data whose rows all carry one date) can take any value when serving later. Saved as
plain JSON numbers, never as a pickle.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Self

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from circlerank.progress import step
from features.rows import ModelRows

from .dataset import TrainingSet
from .ranker import inputs

MAX_ROWS = 300_000  # a linear model gains nothing from more; the fit stays quick


def _compress(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


class LogisticRanker:
    name = "logistic"

    def __init__(self, c: float = 1.0, seed: int = 0) -> None:
        self.c = c
        self.seed = seed

    def fit(self, train: TrainingSet, valid: TrainingSet) -> Self:
        self.features = list(train.features)
        frame = train.frame
        if len(frame) > MAX_ROWS:
            frame = frame.sample(MAX_ROWS, random_state=self.seed)
        x = _compress(inputs(frame, self.features))
        with warnings.catch_warnings():  # a column missing for every row imputes 0
            warnings.simplefilter("ignore", RuntimeWarning)
            self.median = np.nan_to_num(np.nanmedian(x, axis=0))
        x = np.where(np.isnan(x), self.median, x)
        self.low, self.high = x.min(axis=0, initial=np.inf), x.max(axis=0, initial=-np.inf)
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0)
        # constant up to rounding: standardizing would blow rounding noise up to units
        self.scale[self.scale <= 1e-9 * np.maximum(np.abs(self.mean), 1.0)] = 1.0
        y = frame[train.primary].to_numpy() > 0
        with step(f"logistic regression {train.surface}: {len(y):,} rows"):
            model = LogisticRegression(C=self.c, max_iter=300).fit((x - self.mean) / self.scale, y)
        self.coef, self.intercept = model.coef_[0], float(model.intercept_[0])
        y_valid = valid.frame[train.primary].to_numpy() > 0
        self.metrics = {}
        if 0 < y_valid.sum() < len(y_valid):
            auc = roc_auc_score(y_valid, self.score(valid.frame))
            self.metrics[f"{train.primary}_auc"] = float(auc)
        return self

    def logit(self, rows: ModelRows) -> np.ndarray:
        """Log-odds of the primary action."""
        x = _compress(inputs(rows, self.features))
        x = np.clip(np.where(np.isnan(x), self.median, x), self.low, self.high)
        return np.asarray(((x - self.mean) / self.scale) @ self.coef + self.intercept)

    def score(self, rows: ModelRows) -> np.ndarray:
        return np.asarray(expit(self.logit(rows)))  # no overflow for very negative logits

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        state = {
            "features": self.features,
            "median": self.median.tolist(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }
        (directory / "logistic.json").write_text(json.dumps(state))

    @classmethod
    def load(cls, directory: Path) -> LogisticRanker:
        state = json.loads((directory / "logistic.json").read_text())
        ranker = cls()
        ranker.features = list(state["features"])
        for name in ("median", "mean", "scale", "coef", "low", "high"):
            setattr(ranker, name, np.asarray(state[name], dtype=np.float64))
        ranker.intercept = float(state["intercept"])
        ranker.metrics = {}
        return ranker
