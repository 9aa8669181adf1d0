"""LightGBM heads and LambdaRank trained on a Dask cluster: the best round is the one
early stopping keeps, and the cluster's models score like the single-machine ones."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.engine import DaskEngine
from training.config import BoosterParams
from training.dataset import TrainingSet
from training.distributed import _best_round, best_iteration, ndcg_at
from training.heads import HeadsRanker, booster_params
from training.lambdarank import LambdaRanker


def synthetic(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, 6))
    logit = 1.5 * x[:, 0] - x[:, 1] * x[:, 2] + 0.5 * np.sin(3 * x[:, 3]) - 2.0
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float64)
    return x, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_best_round_is_the_one_early_stopping_keeps(seed: int) -> None:
    x, y = synthetic(6000, seed)
    xv, yv = synthetic(3000, seed + 100)
    params = booster_params(BoosterParams(min_data_in_leaf=50, learning_rate=0.3), seed, "binary")
    train = lgb.Dataset(x, label=y, params={"max_bin": 63})
    held = lgb.Dataset(xv, label=yv, reference=train)
    stopped = lgb.train(
        params, train, 300, valid_sets=[held], callbacks=[lgb.early_stopping(10, verbose=False)]
    )
    full = lgb.train(params, lgb.Dataset(x, label=y, params={"max_bin": 63}), 300)
    assert stopped.best_iteration < 300  # the curve turned: the search had to stop
    assert best_iteration(full, xv, yv, patience=10) == stopped.best_iteration


def test_heads_trained_on_a_cluster_score_like_single_machine_ones(tmp_path: Path) -> None:
    x, y = synthetic(40_000, 7)
    xv, yv = synthetic(10_000, 8)
    names = [f"f{i}" for i in range(x.shape[1])]

    def training_set(values: np.ndarray, labels: np.ndarray) -> TrainingSet:
        frame = pd.DataFrame(values, columns=names).assign(click=labels)
        return TrainingSet("feed", frame, names)

    params = BoosterParams(min_data_in_leaf=100, max_rounds=200, early_stopping_rounds=20)
    local = HeadsRanker(params, {"click": 1.0}).fit(training_set(x, y), training_set(xv, yv))
    engine = DaskEngine(workers=2)
    try:
        ranker = HeadsRanker(params, {"click": 1.0}, client=engine.client)
        cluster = ranker.fit(training_set(x, y), training_set(xv, yv))
    finally:
        engine.close()
    a, b = local.metrics["click_logloss"], cluster.metrics["click_logloss"]
    assert abs(a - b) / a < 0.01, (a, b)
    assert abs(local.metrics["click_auc"] - cluster.metrics["click_auc"]) < 0.01
    # the saved cluster model is an ordinary bundle part: it loads and scores the same
    cluster.save(tmp_path / "heads")
    loaded = HeadsRanker.load(tmp_path / "heads", params, compile_trees=False)
    rows = pd.DataFrame(xv[:500], columns=names)
    np.testing.assert_allclose(loaded.score(rows), cluster.score(rows), rtol=1e-12)


def ranking_data(queries: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = rng.integers(3, 25, queries)
    x = rng.standard_normal((int(groups.sum()), 5))
    relevance = x[:, 0] + 0.5 * x[:, 1] * x[:, 2] + rng.standard_normal(len(x))
    y = np.digitize(relevance, [1.0, 2.0])  # grades 0, 1, 2; many queries have none
    return x, y, groups


@pytest.mark.parametrize("seed", [0, 1])
def test_ndcg_and_the_best_round_match_lightgbm_lambdarank(seed: int) -> None:
    x, y, groups = ranking_data(400, seed)
    xv, yv, gv = ranking_data(200, seed + 50)
    params = booster_params(
        BoosterParams(min_data_in_leaf=20, learning_rate=0.3), seed, "lambdarank"
    )
    params.update({"eval_at": [5], "lambdarank_truncation_level": 10})
    train = lgb.Dataset(x, label=y, group=groups, params={"max_bin": 63})
    held = lgb.Dataset(xv, label=yv, group=gv, reference=train)
    stopped = lgb.train(
        params, train, 300, valid_sets=[held], callbacks=[lgb.early_stopping(10, verbose=False)]
    )
    metric = ndcg_at(yv, gv, 5)
    raw = stopped.predict(xv, num_iteration=stopped.best_iteration, raw_score=True)
    assert metric(raw) == pytest.approx(stopped.best_score["valid_0"]["ndcg@5"], abs=1e-9)
    full = lgb.train(params, lgb.Dataset(x, label=y, group=groups, params={"max_bin": 63}), 300)
    assert stopped.best_iteration < 300
    assert _best_round(full, xv, metric, patience=10, higher=True) == stopped.best_iteration


def test_lambdarank_on_a_cluster_ranks_like_single_machine() -> None:
    x, y, groups = ranking_data(3000, 3)
    xv, yv, gv = ranking_data(800, 4)
    names = [f"f{i}" for i in range(x.shape[1])]

    def training_set(values: np.ndarray, labels: np.ndarray, sizes: np.ndarray) -> TrainingSet:
        frame = pd.DataFrame(values, columns=names).assign(
            request_id=np.repeat([f"r{i:05d}" for i in range(len(sizes))], sizes),
            join=(labels > 0).astype(np.float64),
        )
        return TrainingSet("circle_suggestions", frame, names)

    params = BoosterParams(min_data_in_leaf=50, max_rounds=150, early_stopping_rounds=20)
    train, valid = training_set(x, y, groups), training_set(xv, yv, gv)
    local = LambdaRanker(params).fit(train, valid)
    engine = DaskEngine(workers=2)
    try:
        cluster = LambdaRanker(params, client=engine.client).fit(train, valid)
    finally:
        engine.close()
    a, b = local.metrics["ndcg@5"], cluster.metrics["ndcg@5"]
    assert abs(a - b) / a < 0.01, (a, b)
