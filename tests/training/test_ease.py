"""EASE and DLAE against per-column regressions solved directly from their definitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from circlerank.errors import ModelError
from training.ease import EASE, EASEParams

from .test_knn_signals import random_memberships


def ridge_weights(members: np.ndarray, l2: float) -> np.ndarray:
    """Column j of B: the ridge regression of item j's column on every other item's,
    min |x_j - X_-j b|^2 + l2 |b|^2, with B[j, j] = 0 (the constraint of the definition)."""
    items = members.shape[1]
    weights = np.zeros((items, items))
    for j in range(items):
        others = np.delete(np.arange(items), j)
        x = members[:, others]
        b = np.linalg.solve(x.T @ x + l2 * np.eye(len(others)), x.T @ members[:, j])
        weights[others, j] = b
    return weights


def dropout_weights(members: np.ndarray, l2: float, p: float) -> np.ndarray:
    """Column j of B: the least-squares fit of item j's column by every item's, each
    weight b_i penalized by l2 + p/(1-p) |members(i)| (the expected cost of dropping
    entries with probability p), solved as an augmented least-squares system."""
    items = members.shape[1]
    penalty = np.sqrt(l2 + p / (1 - p) * members.sum(axis=0))
    stacked = np.vstack([members, np.diag(penalty)])
    weights = np.zeros((items, items))
    for j in range(items):
        target = np.concatenate([members[:, j], np.zeros(items)])
        weights[:, j] = np.linalg.lstsq(stacked, target, rcond=None)[0]
    np.fill_diagonal(weights, 0.0)  # the model never scores a user's own items
    return weights


def dense(pairs: pd.DataFrame) -> pd.DataFrame:
    return pd.crosstab(pairs["user_id"], pairs["item_id"]).clip(upper=1).astype(np.float64)


@pytest.mark.parametrize(("seed", "l2", "dropout"), [(0, 5.0, 0.0), (1, 50.0, 0.0), (2, 3.0, 0.25)])
def test_ease_scores_are_the_ridge_reconstruction(
    seed: int, l2: float, dropout: float, tmp_path: Path
) -> None:
    pairs = random_memberships(seed)
    matrix = dense(pairs)
    x = matrix.to_numpy()
    weights = ridge_weights(x, l2) if dropout == 0 else dropout_weights(x, l2, dropout)
    expected = x @ weights
    model = EASE(EASEParams(l2=l2, dropout=dropout, min_members=1)).fit(pairs)
    users = np.repeat(matrix.index.to_numpy(), len(matrix.columns))
    items = np.tile(matrix.columns.to_numpy(), len(matrix.index))
    np.testing.assert_allclose(model.score(users, items), expected.ravel(), rtol=1e-4, atol=1e-6)

    top = model.recommend(matrix.index, 3, exclude=pairs)
    for user, got in top.groupby("user_id"):
        row = pd.Series(expected[matrix.index.get_loc(user)], index=matrix.columns)
        theirs = row.drop(pairs.loc[pairs["user_id"] == user, "item_id"])
        best = theirs[theirs > 0].sort_values(ascending=False, kind="stable").head(3)
        np.testing.assert_allclose(got["score"].to_numpy(), best.to_numpy(), rtol=1e-4)
        assert not set(got["item_id"]) & set(pairs.loc[pairs["user_id"] == user, "item_id"])

    model.save(tmp_path / "ease")
    loaded = EASE.load(tmp_path / "ease")
    assert loaded.params == model.params
    np.testing.assert_array_equal(loaded.score(users, items), model.score(users, items))


def test_ease_learns_only_items_with_enough_members_and_at_most_max_items() -> None:
    pairs = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "a", "b", "a", "b", "c", "c"],
            "item_id": ["pop", "pop", "pop", "mid", "mid", "two", "two", "lone", "pop"],
        }
    )
    model = EASE(EASEParams(l2=1.0, dropout=0.0, min_members=2)).fit(pairs)
    scores = model.score(np.array(["a", "a", "a", "a"]), np.array(["pop", "mid", "two", "lone"]))
    assert np.isfinite(scores[:3]).all() and np.isnan(scores[3])  # "lone" has one member
    # the most popular survive the cap; ties keep the id order
    capped = EASE(EASEParams(l2=1.0, min_members=2, max_items=2)).fit(pairs)
    known = capped.score(np.array(["a"] * 3), np.array(["pop", "mid", "two"]))
    assert np.isfinite(known[:2]).all() and np.isnan(known[2])


def test_ease_refuses_a_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot load EASE"):
        EASE.load(tmp_path / "nothing")


@pytest.mark.parametrize("params", [{"l2": 0.0}, {"dropout": 1.0}, {"dropout": -0.1}])
def test_ease_refuses_settings_without_a_solution(params: dict[str, float]) -> None:
    with pytest.raises(ModelError, match="EASE needs"):
        EASEParams(**params)  # type: ignore[arg-type]
