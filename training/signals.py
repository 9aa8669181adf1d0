"""Collaborative signals of circle-suggestion candidates, computed from the bundle's
candidate models (ALS, co-membership item-kNN and EASE) at training and serving alike.

For each (user, circle) candidate: the model's score, that score standardized within
the user's candidates and its rank among them (0 = best). A ranker that sees them
learns how far to trust each model against the features (friends who are members, the
circle's size), instead of a fixed blend weight.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np
import pandas as pd

from features.rows import FeatureRows, ModelRows

from .item_models import ITEM_MODELS

MODELS = ("als", *ITEM_MODELS)
SIGNALS = tuple(f"{m}_{s}" for m in MODELS for s in ("score", "z", "rank"))


class PairScorer(Protocol):
    def score(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray: ...


def candidate_signals(
    users: np.ndarray, items: np.ndarray, models: Mapping[str, PairScorer | None]
) -> dict[str, np.ndarray]:
    """SIGNALS of aligned (user, item) candidate arrays; NaN where a model is absent or
    does not know the user or item."""
    code = pd.factorize(np.asarray(users, dtype=object))[0]
    out: dict[str, np.ndarray] = {}
    for name in MODELS:
        model = models.get(name)
        if model is None:
            score = np.full(len(code), np.nan)
        else:
            score = np.asarray(
                model.score(np.asarray(users, dtype=object), np.asarray(items, dtype=object)),
                dtype=np.float64,
            )
        known = np.isfinite(score)
        n = np.bincount(code[known], minlength=code.max(initial=-1) + 1).astype(np.float64)
        total = np.bincount(code[known], weights=score[known], minlength=len(n))
        squares = np.bincount(code[known], weights=score[known] ** 2, minlength=len(n))
        mean = np.divide(total, n, out=np.zeros(len(n)), where=n > 0)
        var = np.divide(squares, n, out=np.zeros(len(n)), where=n > 0) - mean**2
        std = np.sqrt(np.maximum(var, 0))
        z = (score - mean[code]) / np.where(std[code] > 0, std[code], 1.0)
        # rank within the user's candidates, best first; unknown scores last
        order = np.lexsort((-np.where(known, score, -np.inf), code))
        first = np.searchsorted(code[order], code[order], side="left")
        rank = np.empty(len(code))
        rank[order] = np.arange(len(code)) - first
        out[f"{name}_score"] = score
        out[f"{name}_z"] = np.where(known, z, np.nan)
        out[f"{name}_rank"] = rank
    return out


def with_signals(
    rows: ModelRows, users: np.ndarray, items: np.ndarray, models: Mapping[str, PairScorer | None]
) -> ModelRows:
    """`rows` with the SIGNALS columns of its (user, item) candidates added."""
    signals = candidate_signals(users, items, models)
    if isinstance(rows, FeatureRows):
        return rows.with_columns(signals)
    return rows.assign(**signals)
