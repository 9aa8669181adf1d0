"""Ranking metrics equal pytrec_eval's to 1e-9, and keep their invariances."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import pytrec_eval

from evaluation.metrics import MetricOptions, mean_metrics, per_user

K = 5
# our measure -> pytrec_eval's name at cut-off K
TREC = {
    "precision": f"P_{K}",
    "recall": f"recall_{K}",
    "hit_rate": f"success_{K}",
    "ndcg": f"ndcg_cut_{K}",
}


def _random_case(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs with tied scores, unjudged items, graded gains, users with no relevant item
    and users only in the run or only in the qrels."""
    rng = np.random.default_rng(seed)
    items = [f"d{i:02d}" for i in range(30)]
    run_rows, qrel_rows = [], []
    for u in range(40):
        user = f"u{u}"
        if u % 13 != 5:  # some users only in the qrels
            shown = rng.choice(items, rng.integers(1, 20), replace=False)
            scores = rng.integers(0, 6, len(shown)) / 2  # coarse: many ties
            run_rows += [(user, i, s) for i, s in zip(shown, scores, strict=True)]
        if u % 11 != 3:  # some users only in the run
            judged = rng.choice(items, rng.integers(1, 15), replace=False)
            gains = rng.integers(0, 4, len(judged)) if u % 7 else np.zeros(len(judged), int)
            qrel_rows += [(user, i, int(g)) for i, g in zip(judged, gains, strict=True)]
    run = pd.DataFrame(run_rows, columns=["user_id", "item_id", "score"])
    qrels = pd.DataFrame(qrel_rows, columns=["user_id", "item_id", "gain"])
    return run, qrels


def _trec(run: pd.DataFrame, qrels: pd.DataFrame, measures: set[str]) -> dict:
    q: dict[str, dict[str, int]] = {}
    for user, item, gain in qrels.itertuples(index=False):
        q.setdefault(user, {})[item] = int(gain)
    r: dict[str, dict[str, float]] = {}
    for user, item, score in run.itertuples(index=False):
        r.setdefault(user, {})[item] = float(score)
    return pytrec_eval.RelevanceEvaluator(q, measures).evaluate(r)


@pytest.mark.parametrize("seed", range(5))
def test_equal_to_pytrec_eval_with_ties_and_users_without_relevant_items(seed: int) -> None:
    run, qrels = _random_case(seed)
    ours = per_user(run, qrels, k=K)
    theirs = _trec(run, qrels, {*TREC.values(), "map", "recip_rank", "ndcg"})
    assert set(ours.index) == set(theirs)
    assert (ours["map"] == 0).any()  # the case includes users with nothing relevant
    for user, row in ours.iterrows():
        for ours_name, trec_name in TREC.items():
            assert row[ours_name] == pytest.approx(theirs[user][trec_name], abs=1e-9)
    full = per_user(run, qrels, k=None)
    for user, row in full.iterrows():
        assert row["map"] == pytest.approx(theirs[user]["map"], abs=1e-9)
        assert row["mrr"] == pytest.approx(theirs[user]["recip_rank"], abs=1e-9)
        assert row["ndcg"] == pytest.approx(theirs[user]["ndcg"], abs=1e-9)


def test_cut_map_and_mrr_equal_pytrec_eval() -> None:
    run, qrels = _random_case(7)
    ours = per_user(run, qrels, k=K)
    theirs = _trec(run, qrels, {f"map_cut_{K}"})
    for user, row in ours.iterrows():
        assert row["map"] == pytest.approx(theirs[user][f"map_cut_{K}"], abs=1e-9)


def test_mean_is_invariant_to_user_order() -> None:
    run, qrels = _random_case(3)
    shuffled = run.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert mean_metrics(run, qrels, K) == pytest.approx(mean_metrics(shuffled, qrels, K))


def test_the_ideal_ranking_has_ndcg_one() -> None:
    _, qrels = _random_case(4)
    ideal = qrels.assign(score=qrels["gain"] + np.linspace(0, 0.1, len(qrels)))
    ideal = ideal[ideal.groupby("user_id")["gain"].transform("max") > 0]
    got = per_user(ideal[["user_id", "item_id", "score"]], qrels, k=None)
    assert np.allclose(got["ndcg"], 1.0)


def test_options_where_tools_disagree() -> None:
    run = pd.DataFrame(
        {"user_id": ["a", "a", "a", "b"], "item_id": ["x", "y", "z", "x"], "score": [1, 1, 0, 1]}
    )
    qrels = pd.DataFrame(
        {"user_id": ["a", "a", "b"], "item_id": ["x", "q", "x"], "gain": [1, 1, 0]}
    )
    default = per_user(run, qrels, k=2)
    assert list(default.index) == ["a", "b"] and default.loc["b", "ndcg"] == 0.0
    # trec_eval puts y before x on the tie (ids descending): x is second
    assert default.loc["a", "mrr"] == 0.5
    assert per_user(run, qrels, k=2, options=MetricOptions(ties="run_order")).loc["a", "mrr"] == 1
    assert list(per_user(run, qrels, k=2, options=MetricOptions(no_relevant="skip")).index) == ["a"]
    # AP@2 of a: x relevant at rank 2 of R = 2 judged relevant: (1/2) / 2; AP@1 is 0
    assert default.loc["a", "map"] == pytest.approx(0.25)
    capped = per_user(run, qrels, k=1, options=MetricOptions(ap_denominator="min_r_k"))
    assert capped.loc["a", "map"] == 0.0
