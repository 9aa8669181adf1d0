"""LightGBM heads trained on a Dask cluster: the best round is the one early stopping
keeps, and the cluster's model scores like the single-machine one."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from features.engine import DaskEngine
from training.config import BoosterParams
from training.dataset import TrainingSet
from training.distributed import best_iteration
from training.heads import HeadsRanker, booster_params


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
