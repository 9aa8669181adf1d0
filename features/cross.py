"""Cross features: computed per (user, item) at request time from entity features.

The same function runs on training rows (entity features as of each impression) and on
serving rows (entity features from the online store), so the two cannot drift apart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from .config import FeatureConfig
from .pit import AS_OF, days
from .streams import Vocabulary
from .views.base import VECTOR_PREFIX


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # np.linalg.norm(x, axis=1) computes exactly this, after checks that cost more
    norm = np.sqrt(np.add.reduce(a * a, axis=1)) * np.sqrt(np.add.reduce(b * b, axis=1))
    dot = np.einsum("ij,ij->i", a, b)
    return np.divide(dot, norm, out=np.zeros_like(dot), where=norm > 0)


SCALAR_INPUTS = ("post_created_day", "cc_members", "circle_members", "ua_is_friend", "ua_transfer")


_Names = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # user, circle, baseline


def _vectors(vocab: Vocabulary, config: FeatureConfig) -> _Names:
    return _vector_names(vocab.categories, config.windows_days[-1])


@functools.lru_cache(maxsize=64)
def _vector_names(categories: tuple[str, ...], longest: int) -> _Names:
    """The category vectors' column names (a request asks for them on every call)."""
    user_vec = tuple(f"{VECTOR_PREFIX}count_{longest}d__{c}" for c in categories)
    circle_vec = tuple(f"{VECTOR_PREFIX}profile__{c}" for c in categories)
    baseline = tuple(f"{VECTOR_PREFIX}baseline__{c}" for c in categories)
    return user_vec, circle_vec, baseline


def cross_inputs(vocab: Vocabulary, config: FeatureConfig) -> set[str]:
    """Every column `cross_features` may read besides as_of (callers gather just these)."""
    return {*SCALAR_INPUTS, *interest_inputs(vocab, config)}


def interest_inputs(vocab: Vocabulary, config: FeatureConfig) -> set[str]:
    """The columns `interest_values` reads: category vectors of users, circles and the
    population, so equal for rows with the same user and circle."""
    user_vec, circle_vec, baseline = _vectors(vocab, config)
    return {*user_vec, *circle_vec, *baseline}


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


# (rows, len(names)) floats of the named columns, or None when any of them is absent
Columns = Callable[[Sequence[str]], np.ndarray | None]


def cross_features(frame: pd.DataFrame, vocab: Vocabulary, config: FeatureConfig) -> pd.DataFrame:
    """The cross columns for rows holding entity features, `as_of` and key columns."""
    present = set(frame.columns)

    def columns(names: Sequence[str]) -> np.ndarray | None:
        if not set(names) <= present:
            return None
        return frame[list(names)].to_numpy(dtype=np.float64)

    as_of = days(frame[AS_OF]) if AS_OF in present else np.full(len(frame), np.nan)
    values = cross_values(columns, as_of, vocab, config)
    return pd.DataFrame(values, index=frame.index)


def cross_values(
    columns: Columns, as_of_days: np.ndarray, vocab: Vocabulary, config: FeatureConfig
) -> dict[str, np.ndarray]:
    """`cross_features` over any column source (a frame in training, the online store's
    block at serving time), with each row's as_of in days since the epoch."""
    out = interest_values(columns, vocab, config)
    out.update(row_values(columns, as_of_days))
    return out


def interest_values(
    columns: Columns, vocab: Vocabulary, config: FeatureConfig
) -> dict[str, np.ndarray]:
    """The cross features of the user's and the circle's payment categories."""
    out: dict[str, np.ndarray] = {}
    user_vec, circle_vec, baseline = _vectors(vocab, config)
    a = columns(user_vec) if vocab.categories else None
    b = columns(circle_vec) if a is not None else None
    if a is not None and b is not None:
        a, b = _zero_nan(a), _zero_nan(b)
        out["interest_match"] = _cosine(a, b)
        base = columns(baseline)
        if base is not None:
            out["interest_lift"], out["interest_lift_sq"] = _lifts(a, b, _zero_nan(base))
    return out


def row_values(columns: Columns, as_of_days: np.ndarray) -> dict[str, np.ndarray]:
    """The cross features of scalar columns and the row's time."""
    out: dict[str, np.ndarray] = {}
    created = columns(["post_created_day"])
    if created is not None:
        out["post_age_hours"] = 24.0 * (as_of_days - created[:, 0])
    sizes = columns(["cc_members", "circle_members"])
    if sizes is not None:
        local, size = sizes[:, 0], sizes[:, 1]
        out["circle_city_share"] = np.divide(local, size, out=np.zeros_like(local), where=size > 0)
    friend, sent = columns(["ua_is_friend"]), columns(["ua_transfer"])
    if friend is not None or sent is not None:
        out["ua_tie_strength"] = _column_or_zero(friend, len(as_of_days)) + np.log1p(
            _column_or_zero(sent, len(as_of_days))
        )
    return out


def _zero_nan(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), 0.0, values)


def _column_or_zero(values: np.ndarray | None, rows: int) -> np.ndarray:
    return np.zeros(rows) if values is None else np.nan_to_num(values[:, 0])
