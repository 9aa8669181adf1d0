"""Cross features: computed per (user, item) at request time from entity features.

The same function runs on training rows (entity features as of each impression) and on
serving rows (entity features from the online store), so the two cannot drift apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import FeatureConfig
from .pit import days
from .streams import Vocabulary
from .views.base import VECTOR_PREFIX


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dot = np.einsum("ij,ij->i", a, b)
    return np.divide(dot, norm, out=np.zeros_like(dot), where=norm > 0)


SCALAR_INPUTS = ("post_created_day", "cc_members", "circle_members", "ua_is_friend", "ua_transfer")


def _vectors(vocab: Vocabulary, config: FeatureConfig) -> tuple[list[str], list[str], list[str]]:
    longest = config.windows_days[-1]
    user_vec = [f"{VECTOR_PREFIX}count_{longest}d__{c}" for c in vocab.categories]
    circle_vec = [f"{VECTOR_PREFIX}profile__{c}" for c in vocab.categories]
    baseline = [f"{VECTOR_PREFIX}baseline__{c}" for c in vocab.categories]
    return user_vec, circle_vec, baseline


def cross_inputs(vocab: Vocabulary, config: FeatureConfig) -> set[str]:
    """Every column `cross_features` may read besides as_of (callers gather just these)."""
    user_vec, circle_vec, baseline = _vectors(vocab, config)
    return {*SCALAR_INPUTS, *user_vec, *circle_vec, *baseline}


def _lifts(
    user: np.ndarray, circle: np.ndarray, baseline: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """How the user's and the circle's category shares both depart from the baseline
    (all circles' members): sum (u - b)(c - b) / b and the same over b squared. Positive
    when the user pays more than people at large exactly where the circle's members do;
    categories the baseline never saw carry no weight."""
    seen = baseline > 0
    inverse = np.divide(1.0, baseline, out=np.zeros_like(baseline), where=seen)
    both = (user - baseline) * (circle - baseline) * seen
    return np.einsum("ij,ij->i", both, inverse), np.einsum("ij,ij->i", both, inverse**2)


def cross_features(frame: pd.DataFrame, vocab: Vocabulary, config: FeatureConfig) -> pd.DataFrame:
    """The cross columns for rows holding entity features, `as_of` and key columns."""
    out: dict[str, np.ndarray] = {}
    user_vec, circle_vec, baseline = _vectors(vocab, config)
    if vocab.categories and set(user_vec + circle_vec) <= set(frame.columns):
        a = frame[user_vec].to_numpy(dtype=np.float64, na_value=0.0)
        b = frame[circle_vec].to_numpy(dtype=np.float64, na_value=0.0)
        out["interest_match"] = _cosine(a, b)
        if set(baseline) <= set(frame.columns):
            base = frame[baseline].to_numpy(dtype=np.float64, na_value=0.0)
            out["interest_lift"], out["interest_lift_sq"] = _lifts(a, b, base)
    if "post_created_day" in frame.columns:
        age_days = days(frame["as_of"]) - frame["post_created_day"].to_numpy(dtype=np.float64)
        out["post_age_hours"] = 24.0 * age_days
    if {"cc_members", "circle_members"} <= set(frame.columns):
        size = frame["circle_members"].to_numpy(dtype=np.float64)
        local = frame["cc_members"].to_numpy(dtype=np.float64)
        out["circle_city_share"] = np.divide(local, size, out=np.zeros_like(local), where=size > 0)
    if "ua_is_friend" in frame.columns or "ua_transfer" in frame.columns:
        friend = frame.get("ua_is_friend", pd.Series(0.0, index=frame.index)).to_numpy(
            dtype=np.float64
        )
        sent = frame.get("ua_transfer", pd.Series(0.0, index=frame.index)).to_numpy(
            dtype=np.float64
        )
        out["ua_tie_strength"] = np.nan_to_num(friend) + np.log1p(np.nan_to_num(sent))
    return pd.DataFrame(out, index=frame.index)
