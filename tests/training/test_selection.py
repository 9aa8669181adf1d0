"""Choosing a surface's scorer on validation: the metric against a reference NDCG, the
stack's weights on data with a known answer, the capacity grid, and `auto` serving
exactly what `train` chose."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score

from circlerank.errors import ModelError
from evaluation.quality import read_truth
from evaluation.simulator import SimConfig, SimResult, simulate
from features.contract import ContractData, load_contract
from ranking.components import RankContext
from ranking.replay import Replayer
from ranking.scorers import AutoScorer
from ranking.strategy import Strategies, Strategy, load_strategies
from training.bundle import Bundle
from training.capacity import leaf_sizes
from training.config import SelectionConfig, TrainConfig
from training.lambdarank import requests_with_positives
from training.selection import fit_stack, ranking_metric
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
    weights, out_of_fold = fit_stack(
        {"signal": signal, "noise": noise, "inverted": inverted}, positive, groups, seed=0
    )
    assert weights["signal"] > 1.0
    assert "inverted" not in weights
    assert abs(weights.get("noise", 0.0)) < 0.1
    # out of fold, the stack ranks about as well as the signal alone
    grades = positive.astype(np.int64)
    stacked, _ = ranking_metric(out_of_fold, grades, groups, 5)
    alone, _ = ranking_metric(signal, grades, groups, 5)
    assert stacked == pytest.approx(alone, abs=0.01)


def test_leaf_sizes_grow_with_the_data() -> None:
    assert leaf_sizes(1_000) == [5, 8]
    assert leaf_sizes(200_000) == [100, 400, 1600]
    assert max(leaf_sizes(10_000_000)) == 2_000


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> SimResult:
    out = tmp_path_factory.mktemp("worlds") / "selection"
    return simulate(SimConfig(users=800, days=28, seed=5), out_dir=out)


@pytest.fixture(scope="module")
def data(world: SimResult, tmp_path_factory: pytest.TempPathFactory) -> ContractData:
    return load_contract(world.out_dir, quarantine_dir=tmp_path_factory.mktemp("q"))


@pytest.fixture(scope="module")
def bundle(world: SimResult, data: ContractData) -> Bundle:
    config = TrainConfig(selection=SelectionConfig(search_seconds=5))
    return train(data, config, until=world.split_time)


def test_train_records_every_contender_and_keeps_the_best(bundle: Bundle) -> None:
    for surface in ("feed", "circle_suggestions"):
        chosen = bundle.manifest["selection"][surface]
        contenders = chosen["contenders"]
        assert {"heads", "logistic", "lambdarank"} <= set(contenders)
        assert chosen["requests"] > 0
        served = {"value": "value", "logistic": "logistic", "lambdarank": "lambdarank"}
        if chosen["scorer"] == "blend" and chosen["stack_weights"]:
            winner = "stack"
        elif chosen["scorer"] == "blend":
            winner = "heads"
        else:
            winner = next(n for n, s in served.items() if s == chosen["scorer"])
        singles = {n: v for n, v in contenders.items() if n != "stack"}
        if winner == "stack":
            assert contenders["stack"] > max(singles.values())
        else:
            assert contenders[winner] == max(singles.values())
        capacity = chosen["capacity"]
        picked = (capacity["num_leaves"], capacity["min_data_in_leaf"])
        losses = {(t["num_leaves"], t["min_data_in_leaf"]): t["logloss"] for t in capacity["tried"]}
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
