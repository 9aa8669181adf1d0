"""What every ranker offers: fit on training sets, score feature rows, save and load."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Self

import numpy as np

from features.rows import FeatureRows, ModelRows

from .dataset import TrainingSet


class Ranker(Protocol):
    """`__init__` stores parameters only; `fit` returns self; `score` is higher-better."""

    name: str
    features: list[str]
    metrics: dict[str, float]

    def fit(self, train: TrainingSet, valid: TrainingSet) -> Self: ...

    def score(self, rows: ModelRows) -> np.ndarray: ...

    def save(self, directory: Path) -> None: ...


def inputs(rows: ModelRows, features: list[str]) -> np.ndarray:
    """The model matrix in training column order; columns a row set lacks are NaN
    (LightGBM sends missing values down the learned default branch). Row-major, as
    predictors read it: a frame's own layout is column-major, and each head of a ranker
    would otherwise copy it again."""
    if isinstance(rows, FeatureRows):
        return rows.matrix(features)
    matrix = rows.reindex(columns=features).to_numpy(dtype=np.float64, na_value=np.nan)
    return np.ascontiguousarray(matrix)
