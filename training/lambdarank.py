"""LightGBM LambdaRank on graded labels, one query group per logged request.

Feed grades: 0 shown only (or hidden/reported), 1 clicked, 2 clicked and liked,
commented or shared. Suggestions: 1 joined.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Self

import lightgbm as lgb
import numpy as np

from circlerank.errors import ModelError
from circlerank.progress import step
from features.rows import ModelRows

from .config import BoosterParams
from .dataset import TrainingSet
from .distributed import fit_lambdarank_on_cluster, ndcg_at, worth_distributing
from .heads import booster_params
from .predictor import BoosterPredictor, Predictor, predictor
from .ranker import inputs

CUTOFF = {"feed": 10, "circle_suggestions": 5}


def graded_labels(train: TrainingSet) -> np.ndarray:
    f = train.frame
    if train.surface == "feed":
        deep = (f[["like", "comment", "share"]].to_numpy() > 0).any(axis=1)
        bad = (f[["hide", "report"]].to_numpy() > 0).any(axis=1)
        grade = (f["click"].to_numpy() > 0).astype(np.int64) + (deep & (f["click"] > 0))
        return np.where(bad, 0, grade)
    return (f["join"].to_numpy() > 0).astype(np.int64)


def requests_with_positives(y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which rows belong to a request (a run of `groups`) with a positive grade, and the
    sizes of those requests. A request without one has no pair to order: it adds no
    gradient to LambdaRank, only cost (most requests of a click-sparse feed log)."""
    request = np.repeat(np.arange(len(groups)), groups)
    positive = np.bincount(request, weights=(y > 0).astype(np.float64), minlength=len(groups)) > 0
    return positive[request], groups[positive]


class LambdaRanker:
    name = "lambdarank"

    def __init__(
        self,
        params: BoosterParams,
        seed: int = 0,
        client: Any | None = None,
        rounds: int | None = None,
    ) -> None:
        self.params = params
        self.seed = seed
        self.fixed_rounds = rounds  # fixed trees, no early stopping (a refit on all rows)
        self.client = client  # a dask.distributed Client: train on its cluster

    def fit(self, train: TrainingSet, valid: TrainingSet) -> Self:
        self.features = list(train.features)
        cutoff = CUTOFF[train.surface]
        y = graded_labels(train)
        if not y.any():
            raise ModelError(f"{train.surface}: got no positive impressions for LambdaRank")
        params = booster_params(self.params, self.seed, "lambdarank")
        truncation = self.params.lambdarank_truncation_level or 2 * cutoff
        params.update({"eval_at": [cutoff], "lambdarank_truncation_level": truncation})
        rows, groups = requests_with_positives(y, train.groups())
        x, y = inputs(train.frame[rows], self.features), y[rows]
        x_valid, y_valid = inputs(valid.frame, self.features), graded_labels(valid)
        valid_groups = valid.groups()
        distribute = self.client is not None and worth_distributing(
            self.client, len(y), self.params.min_data_in_leaf
        )
        with step(f"lambdarank {train.surface}: {len(y):,} rows"):
            if distribute:
                self.booster = fit_lambdarank_on_cluster(
                    self.client,
                    params,
                    self.params.max_rounds,
                    self.params.early_stopping_rounds,
                    (x, y, groups),
                    (x_valid, y_valid, valid_groups),
                    cutoff,
                )
            else:
                data = lgb.Dataset(x, label=y, group=groups)
                held = lgb.Dataset(x_valid, label=y_valid, group=valid_groups, reference=data)
                stopping = lgb.early_stopping(self.params.early_stopping_rounds, verbose=False)
                self.booster = lgb.train(
                    params,
                    data,
                    num_boost_round=self.fixed_rounds or self.params.max_rounds,
                    valid_sets=[] if self.fixed_rounds else [held],
                    callbacks=[] if self.fixed_rounds else [stopping],
                )
        best = self.booster.best_iteration
        raw = np.asarray(self.booster.predict(x_valid, num_iteration=best, raw_score=True))
        ndcg = ndcg_at(y_valid, valid_groups, cutoff)(raw)
        self.metrics = {f"ndcg@{cutoff}": ndcg}
        self.metrics["rounds"] = float(self.booster.best_iteration)
        self.predictor: Predictor = BoosterPredictor(self.booster)
        return self

    def score(self, rows: ModelRows) -> np.ndarray:
        x = inputs(rows, self.features)
        return self.predictor.predict(x)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(
            directory / "lambdarank.txt", num_iteration=self.booster.best_iteration
        )
        (directory / "lambdarank.json").write_text(json.dumps({"features": self.features}))

    @classmethod
    def load(
        cls, directory: Path, params: BoosterParams, compile_trees: bool = True
    ) -> LambdaRanker:
        ranker = cls(params)
        ranker.features = json.loads((directory / "lambdarank.json").read_text())["features"]
        path = directory / "lambdarank.txt"
        ranker.booster = lgb.Booster(model_file=str(path))
        ranker.predictor = predictor(path, ranker.booster, compile_trees)
        ranker.metrics = {}
        return ranker
