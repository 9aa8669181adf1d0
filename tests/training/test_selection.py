"""Choosing a surface's scorer on validation: the metric against a reference NDCG, the
stack's weights on data with a known answer, the capacity grid, and `auto` serving
exactly what `train` chose."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score, roc_auc_score

from circlerank.errors import ModelError
from evaluation.quality import read_truth
from evaluation.simulator import SimConfig, SimResult, simulate
from features.contract import ContractData, load_contract
from ranking.components import RankContext
from ranking.for_training import ServingCandidates
from ranking.replay import Replayer
from ranking.scorers import AutoScorer
from ranking.strategy import Strategies, Strategy, load_strategies
from training.bundle import Bundle
from training.capacity import LEAF_SHARES, leaf_rows
from training.heads import HeadsRanker
from training.lambdarank import requests_with_positives
from training.selection import (
    SERVED,
    fit_stack,
    fold_auc,
    fold_ndcgs,
    ranking_metric,
    request_folds,
)
from training.train import train


def test_ranking_metric_is_the_mean_ndcg_of_requests_with_a_positive() -> None:
    rng = np.random.default_rng(0)
    groups = rng.integers(2, 12, 60)
    grades = rng.choice([0, 0, 0, 1, 2], groups.sum())
    scores = rng.normal(size=groups.sum())
    got, requests = ranking_metric(scores, grades, groups, 5)
    starts = np.r_[0, np.cumsum(groups)[:-1]]
    expected = [
        ndcg_score([np.exp2(grades[s : s + n]) - 1], [scores[s : s + n]], k=5)
        for s, n in zip(starts, groups, strict=True)
        if grades[s : s + n].any()
    ]
    assert requests == len(expected)
    assert got == pytest.approx(np.mean(expected))


def test_ranking_metric_without_positives_is_nan() -> None:
    got, requests = ranking_metric(np.ones(6), np.zeros(6), np.array([3, 3]), 5)
    assert requests == 0 and np.isnan(got)


def test_requests_with_positives_keeps_whole_requests() -> None:
    rows, groups = requests_with_positives(np.array([0, 0, 1, 0, 0, 2, 1]), np.array([2, 2, 1, 2]))
    assert rows.tolist() == [False, False, True, True, False, True, True]
    assert groups.tolist() == [2, 2]


def test_stack_weighs_the_informative_input_and_drops_a_harmful_one() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    signal = rng.normal(size=n)
    noise = rng.normal(size=n)
    # a contender whose higher scores mean fewer positives: the stack must not use it
    inverted = rng.normal(size=n)
    positive = rng.random(n) < 1 / (1 + np.exp(-(2.0 * signal - inverted - 3.0)))
    groups = np.full(n // 10, 10)
    fold = request_folds(groups, seed=0)
    weights, out_of_fold = fit_stack(
        {"signal": signal, "noise": noise, "inverted": inverted}, positive, fold
    )
    assert weights["signal"] > 1.0
    assert "inverted" not in weights
    assert weights.get("noise", 0.0) < 0.2
    # out of fold, the stack ranks about as well as the signal alone, and better than noise
    stacked = fold_auc(out_of_fold, positive, fold)
    assert stacked == pytest.approx(fold_auc(signal, positive, fold), abs=0.01)
    assert fold_auc(noise, positive, fold) == pytest.approx(0.5, abs=0.03)


def test_fold_auc_is_the_mean_of_each_folds_auc() -> None:
    rng = np.random.default_rng(2)
    score, positive = rng.normal(size=400), rng.random(400) < 0.3
    fold = request_folds(np.full(100, 4), seed=3)
    expected = [roc_auc_score(positive[fold == f], score[fold == f]) for f in range(5)]
    assert fold_auc(score, positive, fold) == pytest.approx(np.mean(expected))
    # a monotone transform within one fold changes nothing: each fold is ranked alone
    shifted = np.where(fold == 0, score * 10 + 5, score)
    assert fold_auc(shifted, positive, fold) == pytest.approx(fold_auc(score, positive, fold))


def test_leaf_rows_grow_with_the_data_within_bounds() -> None:
    assert [leaf_rows(1_000, share) for share in LEAF_SHARES] == [5, 5, 8]
    assert [leaf_rows(200_000, share) for share in LEAF_SHARES] == [100, 400, 1600]
    assert leaf_rows(10_000_000, max(LEAF_SHARES)) == 2_000


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> SimResult:
    out = tmp_path_factory.mktemp("worlds") / "selection"
    return simulate(SimConfig(users=800, days=28, seed=5), out_dir=out)


@pytest.fixture(scope="module")
def data(world: SimResult, tmp_path_factory: pytest.TempPathFactory) -> ContractData:
    return load_contract(world.out_dir, quarantine_dir=tmp_path_factory.mktemp("q"))


@pytest.fixture(scope="module")
def bundle(world: SimResult, data: ContractData) -> Bundle:
    return train(data, ServingCandidates(), until=world.split_time)


def test_train_records_every_contender_and_keeps_the_best(bundle: Bundle) -> None:
    for surface in ("feed", "circle_suggestions"):
        chosen = bundle.manifest["selection"][surface]
        contenders = chosen["contenders"]
        assert {"heads", "value", "logistic", "lambdarank", "stack"} <= set(contenders)
        assert chosen["positives"] > 0
        if chosen["stack_weights"]:  # the stack, served as a blend of its weights
            assert chosen["scorer"] == "blend"
            assert chosen["params"] == {"heads": 0.0, "logistic": 0.0, **chosen["stack_weights"]}
        else:  # a single model that beat the stack in every fold, so on average too
            served = (chosen["scorer"], chosen["params"])
            single = next(n for n, how in SERVED.items() if how == served)
            assert contenders[single] > contenders["stack"]
        capacity = chosen["capacity"]
        picked = (capacity["num_leaves"], capacity["leaf_share"])
        losses = {(t["num_leaves"], t["leaf_share"]): t["logloss"] for t in capacity["tried"]}
        assert losses[picked] == min(losses.values())


@pytest.mark.parametrize(
    ("surface", "shipped"), [("feed", "engagement"), ("circle_suggestions", "heads_circles")]
)
def test_auto_serves_exactly_the_chosen_scorer(
    surface: str,
    shipped: str,
    world: SimResult,
    data: ContractData,
    bundle: Bundle,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    chosen = bundle.manifest["selection"][surface]
    base = load_strategies().strategies[shipped].model_dump()
    base.update(params={}, rerankers=())
    explicit = {**base, "scorer": chosen["scorer"]}
    if chosen["params"]:
        explicit["params"] = {chosen["scorer"]: chosen["params"]}
    strategies = Strategies(
        defaults={},
        strategies={
            "auto": Strategy.model_validate({**base, "name": "auto", "scorer": "auto"}),
            "explicit": Strategy.model_validate({**explicit, "name": "explicit"}),
        },
    )
    replayer = Replayer(
        data, bundle, world.split_time, tmp_path_factory.mktemp("snapshot"), strategies
    )
    users = read_truth(world.truth_dir)[surface]["user_id"].unique()[:50]
    auto = replayer.rank(surface, users, 10, "auto").ranked
    explicit_ranked = replayer.rank(surface, users, 10, "explicit").ranked
    replayer.close()
    assert len(auto) > 0
    pd.testing.assert_frame_equal(auto, explicit_ranked)


def test_auto_refuses_a_choice_it_cannot_serve() -> None:
    bundle = Bundle(manifest={"version": "v", "selection": {"feed": {"scorer": "random"}}})
    ctx = RankContext(surface="feed", catalog=None, features=None, bundle=bundle)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="random"):
        AutoScorer().chosen(ctx)


def test_small_surfaces_are_refitted_on_every_row_with_the_chosen_trees(bundle: Bundle) -> None:
    for surface, rankers in bundle.rankers.items():
        assert bundle.manifest["selection"][surface]["refit_on_all_rows"]
        heads = rankers["heads"]
        assert isinstance(heads, HeadsRanker)
        first_fit = bundle.manifest["metrics"][surface]["heads"]
        for label in heads.boosters:
            # as many trees as early stopping chose on the split, now on every row
            assert heads.rounds(label) == int(first_fit[f"{label}_rounds"])
        assert heads.fixed_rounds == {label: heads.rounds(label) for label in heads.boosters}


def test_fold_ndcgs_judge_each_fold_by_its_own_requests() -> None:
    rng = np.random.default_rng(4)
    groups = rng.integers(3, 20, 80)
    grades = rng.choice([0, 0, 0, 1], groups.sum())
    score = rng.normal(size=groups.sum())
    fold = request_folds(groups, seed=5)
    got = fold_ndcgs(score, grades, groups, fold, 5)
    starts = np.r_[0, np.cumsum(groups)[:-1]]
    for f in range(5):
        mine = [
            ndcg_score([grades[s : s + n]], [score[s : s + n]], k=5)
            for s, n in zip(starts, groups, strict=True)
            if fold[s] == f and grades[s : s + n].any()
        ]
        assert got[f] == pytest.approx(np.mean(mine))


def test_a_ranker_exact_within_requests_wins_by_ndcg_not_by_pooled_auc() -> None:
    """Scores shifted per request (as LambdaRank's are) order each request perfectly but
    pool badly: judged per request, they win."""
    rng = np.random.default_rng(6)
    groups = np.full(300, 30)
    grades = np.zeros(groups.sum())
    grades[np.arange(300) * 30 + rng.integers(0, 30, 300)] = 1
    shift = np.repeat(rng.normal(scale=10, size=300), groups)
    within = grades + shift  # perfect within each request
    pooled = grades * 0.8 + rng.normal(size=groups.sum())  # comparable across requests
    fold = request_folds(groups, seed=7)
    by_auc = {n: fold_auc(s, grades > 0, fold) for n, s in [("within", within), ("pooled", pooled)]}
    by_ndcg = {
        n: float(np.nanmean(fold_ndcgs(s, grades, groups, fold, 5)))
        for n, s in [("within", within), ("pooled", pooled)]
    }
    assert by_auc["pooled"] > by_auc["within"]
    assert by_ndcg["within"] == pytest.approx(1.0)
    assert by_ndcg["within"] > by_ndcg["pooled"]
