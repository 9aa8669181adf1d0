"""Share of oracle against hand-computed DCGs and its invariances."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evaluation.oracle import share_of_oracle

TRUTH = pd.DataFrame(
    {
        "user_id": ["a", "a", "a", "b", "b"],
        "item_id": ["x", "y", "z", "x", "w"],
        "gain": [0.5, 0.3, 0.1, 0.2, 0.4],
    }
)


def ranked(rows: list[tuple[str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user_id", "item_id"])
    return frame.assign(rank=frame.groupby("user_id").cumcount())


def test_hand_computed_value() -> None:
    # a: z, x, unknown -> (0.1 + 0.5/log2 3) / (0.5 + 0.3/log2 3); b: nothing -> 0
    got = share_of_oracle(ranked([("a", "z"), ("a", "x"), ("a", "q")]), TRUTH, k=2)
    a = (0.1 + 0.5 / math.log2(3)) / (0.5 + 0.3 / math.log2(3))
    assert got == pytest.approx(a / 2)


def test_ideal_order_scores_one_and_reversed_scores_less() -> None:
    ideal = ranked([("a", "x"), ("a", "y"), ("a", "z"), ("b", "w"), ("b", "x")])
    assert share_of_oracle(ideal, TRUTH, k=3) == pytest.approx(1.0)
    worst = ranked([("a", "z"), ("a", "y"), ("a", "x"), ("b", "x"), ("b", "w")])
    assert share_of_oracle(worst, TRUTH, k=3) < 1.0


def test_invariant_to_scaling_gains_and_ignores_non_truth_users() -> None:
    rows = ranked([("a", "y"), ("a", "x"), ("b", "x"), ("c", "x")])
    scaled = TRUTH.assign(gain=TRUTH["gain"] * 7.0)
    base = share_of_oracle(rows, TRUTH, k=2)
    assert share_of_oracle(rows, scaled, k=2) == pytest.approx(base)
    assert share_of_oracle(rows[rows["user_id"] != "c"], TRUTH, k=2) == pytest.approx(base)


def test_matches_a_per_user_loop_on_random_data() -> None:
    rng = np.random.default_rng(0)
    truth = pd.DataFrame(
        {"user_id": rng.integers(0, 30, 400).astype(str), "item_id": rng.integers(0, 50, 400)}
    ).drop_duplicates()
    truth["item_id"] = truth["item_id"].astype(str)
    truth["gain"] = rng.random(len(truth))
    shown = truth.sample(frac=0.7, random_state=1)[["user_id", "item_id"]]
    shown = shown.assign(rank=shown.groupby("user_id").cumcount())
    expected = []
    for user, items in truth.groupby("user_id"):
        gains = dict(zip(items["item_id"], items["gain"], strict=True))
        mine = shown[(shown["user_id"] == user) & (shown["rank"] < 5)]
        dcg = sum(
            gains.get(i, 0.0) / math.log2(r + 2)
            for i, r in zip(mine["item_id"], mine["rank"], strict=True)
        )
        best = sorted(gains.values(), reverse=True)[:5]
        ideal = sum(g / math.log2(r + 2) for r, g in enumerate(best))
        expected.append(dcg / ideal)
    assert share_of_oracle(shown, truth, k=5) == pytest.approx(float(np.mean(expected)))
