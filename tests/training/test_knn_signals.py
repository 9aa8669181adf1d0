"""Item-kNN and the candidate signals against brute-force references."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from circlerank.errors import ModelError
from training.ease import EASE, EASEParams
from training.item_to_item import ItemToItem
from training.knn import ItemKNN, KNNParams
from training.signals import SIGNALS, candidate_signals


def random_memberships(seed: int, users: int = 30, items: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    member = rng.random((users, items)) < 0.3
    u, i = np.nonzero(member)
    return pd.DataFrame({"user_id": [f"u{x:02d}" for x in u], "item_id": [f"c{x:02d}" for x in i]})


def brute_force_scores(pairs: pd.DataFrame, params: KNNParams) -> pd.DataFrame:
    """score(u, j) = sum over the user's items i != j of
    |members(i) & members(j)| / (|i|^a |j|^(1-a) + shrink), straight from the definition."""
    users = sorted(set(pairs["user_id"]))
    items = sorted(set(pairs["item_id"]))
    members = {i: set(pairs.loc[pairs["item_id"] == i, "user_id"]) for i in items}
    mine = {u: set(pairs.loc[pairs["user_id"] == u, "item_id"]) for u in users}
    a, shrink = params.alpha, params.shrink

    def similarity(i: str, j: str) -> float:
        if i == j:
            return 0.0
        size = len(members[i]) ** a * len(members[j]) ** (1 - a)
        return len(members[i] & members[j]) / (size + shrink)

    scores = [[sum(similarity(i, j) for i in mine[u]) for j in items] for u in users]
    return pd.DataFrame(scores, index=users, columns=items)


@pytest.mark.parametrize(("seed", "params"), [(0, KNNParams()), (1, KNNParams(0.3, 0.0))])
def test_item_knn_scores_and_recommends_as_the_definition_says(
    seed: int, params: KNNParams, tmp_path: Path
) -> None:
    pairs = random_memberships(seed)
    expected = brute_force_scores(pairs, params)
    model = ItemKNN(params).fit(pairs)
    users = np.repeat(expected.index.to_numpy(), len(expected.columns))
    items = np.tile(expected.columns.to_numpy(), len(expected.index))
    np.testing.assert_allclose(model.score(users, items), expected.to_numpy().ravel())
    # unknown users or items score NaN
    assert np.isnan(model.score(np.array(["nobody", "u00"]), np.array(["c00", "nothing"]))).all()

    top = model.recommend(expected.index, 3, exclude=pairs)
    for user, got in top.groupby("user_id"):
        theirs = expected.loc[user].drop(pairs.loc[pairs["user_id"] == user, "item_id"])
        best = theirs[theirs > 0].sort_values(ascending=False, kind="stable").head(3)
        np.testing.assert_allclose(got["score"].to_numpy(), best.to_numpy())
        assert got["rank"].tolist() == list(range(len(got)))
        assert not set(got["item_id"]) & set(pairs.loc[pairs["user_id"] == user, "item_id"])

    model.save(tmp_path / "knn")
    loaded = ItemKNN.load(tmp_path / "knn")
    assert loaded.params == params
    np.testing.assert_allclose(loaded.score(users, items), model.score(users, items))
    pd.testing.assert_frame_equal(loaded.recommend(expected.index, 3, exclude=pairs), top)


@pytest.mark.parametrize("model", [ItemKNN(), EASE(EASEParams(min_members=1))])
def test_one_users_requests_agree_with_a_batch(model: ItemToItem[Any]) -> None:
    """A request asks for one user's top items, then scores its candidates: the model
    keeps that user's scores between the two. Each answers as for a batch of users,
    whichever user came before, and the kept scores are never changed."""
    pairs = random_memberships(2)
    model.fit(pairs)
    users = sorted(set(pairs["user_id"]))
    items = np.array(sorted(set(pairs["item_id"])), dtype=object)
    batch = model.recommend(users, 4, exclude=pairs)
    for user in [*users, users[0], users[0]]:
        mine = pairs[pairs["user_id"] == user]
        top = model.top_items(np.array([user], dtype=object), 4, exclude=mine)
        pd.testing.assert_frame_equal(
            top.frame(), batch[batch["user_id"] == user].reset_index(drop=True)
        )
        asked = np.full(len(items), user, dtype=object)
        alone = model.score(asked, items)
        among = model.score(np.array([*asked, "u00"], dtype=object), np.array([*items, "c00"]))
        np.testing.assert_array_equal(alone, among[:-1])


def test_item_knn_refuses_a_missing_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot load item-kNN"):
        ItemKNN.load(tmp_path / "nothing")


class Table:
    """A pair scorer that looks scores up in a dict (missing pairs: NaN)."""

    def __init__(self, scores: dict[tuple[str, str], float]) -> None:
        self.scores = scores

    def score(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        return np.array(
            [self.scores.get((u, i), np.nan) for u, i in zip(user_ids, item_ids, strict=True)]
        )


def test_candidate_signals_are_scores_z_scores_and_ranks_within_each_user() -> None:
    users = np.array(["a", "b", "a", "a", "b"], dtype=object)
    items = np.array(["x", "x", "y", "z", "y"], dtype=object)
    als = Table({("a", "x"): 1.0, ("a", "y"): 3.0, ("a", "z"): 2.0, ("b", "x"): 5.0})
    got = candidate_signals(users, items, {"als": als, "knn": None})
    assert set(got) == set(SIGNALS)
    np.testing.assert_allclose(got["als_score"], [1.0, 5.0, 3.0, 2.0, np.nan])
    # user a: mean 2, population sd sqrt(2/3); user b: one known score, sd 0
    sd = np.sqrt(2 / 3)
    np.testing.assert_allclose(got["als_z"], [-1 / sd, 0.0, 1 / sd, 0.0, np.nan])
    # best first within the user; an unknown score ranks last
    assert got["als_rank"].tolist() == [2.0, 0.0, 0.0, 1.0, 1.0]
    # an absent model gives NaN scores and z-scores
    assert np.isnan(got["knn_score"]).all() and np.isnan(got["knn_z"]).all()
