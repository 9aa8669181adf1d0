"""LightGBM binary heads, one per action, combined into one value score.

value = sum over heads of weight * P(action); hide and report carry negative weights.
The heads share one binned dataset: only the label changes between them.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, Self

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from circlerank.errors import ModelError
from circlerank.progress import step
from features.rows import ModelRows

from .config import BoosterParams
from .dataset import TrainingSet
from .distributed import fit_binary_on_cluster, worth_distributing
from .position import inverse_propensity_weights
from .predictor import BoosterPredictor, Predictor, predictor, text_predictor
from .ranker import inputs

log = logging.getLogger(__name__)
MIN_POSITIVES = 20
# made once per head and size, by whichever request or warm-up asks first
_FIRST_TREES = threading.Lock()


def booster_params(p: BoosterParams, seed: int, objective: str) -> dict[str, object]:
    return {
        "objective": objective,
        "num_leaves": p.num_leaves,
        "learning_rate": p.learning_rate,
        "min_data_in_leaf": p.min_data_in_leaf,
        "feature_fraction": p.feature_fraction,
        "bagging_fraction": p.bagging_fraction,
        "bagging_freq": p.bagging_freq,
        "lambda_l2": p.lambda_l2,
        "max_bin": p.max_bin,
        "num_threads": p.threads,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }


def sample_negatives(train: TrainingSet, rate: float, seed: int) -> tuple[TrainingSet, np.ndarray]:
    """Every row with any positive label plus a `rate` share of the rest, and weights
    (1 / rate on kept negatives) that keep predicted probabilities calibrated."""
    if rate >= 1.0:
        return train, np.ones(len(train.frame))
    positive = (train.frame[list(train.labels)].to_numpy() > 0).any(axis=1)
    keep = positive | (np.random.default_rng(seed).random(len(positive)) < rate)
    subset = TrainingSet(train.surface, train.frame[keep].reset_index(drop=True), train.features)
    return subset, np.where(positive[keep], 1.0, 1.0 / rate)


class HeadsRanker:
    """One LightGBM classifier per action with enough positives; value = weighted sum."""

    name = "heads"

    def __init__(
        self,
        params: BoosterParams,
        weights: dict[str, float],
        ipw: bool = False,
        negative_rate: float = 1.0,
        seed: int = 0,
        client: Any | None = None,
        rounds: dict[str, int] | None = None,
    ) -> None:
        self.params = params
        self.weights = weights
        # trees per head, fixed (no early stopping): a refit on all rows takes the rounds
        # early stopping chose before (training/refit.py)
        self.fixed_rounds = rounds or {}
        self.ipw = ipw
        self.negative_rate = negative_rate
        self.seed = seed
        self.client = client  # a dask.distributed Client: train on its cluster
        self.compile_trees = False  # whether predictors are compiled (set when loaded)
        self._first: dict[tuple[str, int], Predictor] = {}  # (head, trees) -> predictor

    def fit(self, train: TrainingSet, valid: TrainingSet) -> Self:
        self.features = list(train.features)
        self.boosters: dict[str, lgb.Booster] = {}
        self.metrics: dict[str, float] = {}
        train, self._base_weight = sample_negatives(train, self.negative_rate, self.seed)
        x_train, x_valid = inputs(train.frame, self.features), inputs(valid.frame, self.features)
        shared = lgb.Dataset(x_train, free_raw_data=False, params={"max_bin": self.params.max_bin})
        for label, weight in self.weights.items():
            y = train.frame[label].to_numpy(np.float64)
            if weight == 0 or y.sum() < MIN_POSITIVES:
                continue
            with step(f"head {train.surface}/{label}: {int(y.sum()):,} positives"):
                self.boosters[label] = self._fit_one(shared, x_train, train, label, x_valid, valid)
        if train.primary not in self.boosters:
            raise ModelError(
                f"{train.surface}: got {int(train.frame[train.primary].sum())} "
                f"'{train.primary}' positives; need at least {MIN_POSITIVES} to train"
            )
        self.predictors: dict[str, Predictor] = {
            label: BoosterPredictor(b) for label, b in self.boosters.items()
        }
        return self

    def _fit_one(
        self,
        shared: lgb.Dataset,
        x_train: np.ndarray,
        train: TrainingSet,
        label: str,
        x_valid: np.ndarray,
        valid: TrainingSet,
    ) -> lgb.Booster:
        y = train.frame[label].to_numpy(np.float64)
        weight = self._base_weight
        if self.ipw:
            weight = weight * inverse_propensity_weights(train.frame, label)
        y_valid = valid.frame[label].to_numpy(np.float64)
        params = booster_params(self.params, self.seed, "binary")
        distribute = self.client is not None and worth_distributing(
            self.client, len(x_train), self.params.min_data_in_leaf
        )
        if self.client is not None and not distribute:
            log.info("head %s: %d rows are too few to split across workers", label, len(y))
        if distribute:
            booster = fit_binary_on_cluster(
                self.client,
                params,
                self.params.max_rounds,
                self.params.early_stopping_rounds,
                x_train,
                y,
                weight,
                x_valid,
                y_valid,
            )
        else:
            shared.set_label(y)
            shared.set_weight(weight)
            held = lgb.Dataset(x_valid, label=y_valid, reference=shared)
            fixed = self.fixed_rounds.get(label)
            stopping = lgb.early_stopping(self.params.early_stopping_rounds, verbose=False)
            booster = lgb.train(
                params,
                shared,
                num_boost_round=fixed or self.params.max_rounds,
                valid_sets=[] if fixed else [held],
                callbacks=[] if fixed else [stopping],
            )
        predicted = booster.predict(x_valid, num_iteration=booster.best_iteration)
        if 0 < y_valid.sum() < len(y_valid):
            self.metrics[f"{label}_auc"] = float(roc_auc_score(y_valid, predicted))
            self.metrics[f"{label}_logloss"] = float(log_loss(y_valid, predicted, labels=[0, 1]))
        self.metrics[f"{label}_rounds"] = float(booster.best_iteration)
        return booster

    def heads(self, rows: pd.DataFrame) -> pd.DataFrame:
        """P(action) per head for feature rows."""
        x = inputs(rows, self.features)
        return pd.DataFrame(
            {label: p.predict(x) for label, p in self.predictors.items()}, index=rows.index
        )

    def probability(self, rows: ModelRows, label: str) -> np.ndarray:
        """P(action) of one head."""
        return self.predict(inputs(rows, self.features), label)

    def score(self, rows: ModelRows) -> np.ndarray:
        return self.value(inputs(rows, self.features))

    def value(self, x: np.ndarray, known: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """The weighted sum of the heads for a model matrix (`inputs`); heads already
        predicted for these rows can be passed in `known`."""
        known = known or {}
        value = np.zeros(len(x))
        for label, head in self.predictors.items():
            value += self.weights[label] * (known[label] if label in known else head.predict(x))
        return value

    def predict(self, x: np.ndarray, label: str, trees: int | None = None) -> np.ndarray:
        """P(action) of one head for a model matrix; with `trees`, by the head's first
        `trees` trees alone (cheaper and rougher: a first stage's estimate)."""
        return self.predictor_of(label, trees).predict(x)

    def predictor_of(self, label: str, trees: int | None = None) -> Predictor:
        """The predictor `predict` uses: the head's, or that of its first `trees` trees
        when the head has more (made, and compiled, on first use)."""
        if label not in self.predictors:
            raise ModelError(f"no '{label}' head; heads: {', '.join(self.predictors)}")
        if trees is not None and trees < self.rounds(label):
            return self.first_trees(label, trees)
        return self.predictors[label]

    def rounds(self, label: str) -> int:
        """How many trees the head predicts with."""
        booster = self.boosters[label]
        return booster.best_iteration if booster.best_iteration > 0 else booster.num_trees()

    def first_trees(self, label: str, trees: int) -> Predictor:
        """A predictor of the head's first `trees` trees, made (and compiled) once."""
        with _FIRST_TREES:
            key = (label, trees)
            if key not in self._first:
                text = self.boosters[label].model_to_string(num_iteration=trees)
                self._first[key] = text_predictor(text, self.compile_trees)
            return self._first[key]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for label, booster in self.boosters.items():
            booster.save_model(directory / f"{label}.txt", num_iteration=booster.best_iteration)
        meta = {"features": self.features, "weights": self.weights, "heads": list(self.boosters)}
        (directory / "heads.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(
        cls, directory: Path, params: BoosterParams, compile_trees: bool = True
    ) -> HeadsRanker:
        meta = json.loads((directory / "heads.json").read_text())
        ranker = cls(params, {k: float(v) for k, v in meta["weights"].items()})
        ranker.compile_trees = compile_trees
        ranker.features = list(meta["features"])
        ranker.metrics = {}
        ranker.boosters, ranker.predictors = {}, {}
        for label in meta["heads"]:
            path = directory / f"{label}.txt"
            ranker.boosters[label] = lgb.Booster(model_file=str(path))
            ranker.predictors[label] = predictor(path, ranker.boosters[label], compile_trees)
        return ranker
