"""A refit on every row before `until`: the models `train` chose among, fitted again on
the training and validation rows together, each LightGBM model with the trees early
stopping chose for it. The validation metrics and the choice stay those of the first fit."""

from __future__ import annotations

from .config import BoosterParams, TrainConfig
from .dataset import TrainingSet
from .heads import HeadsRanker
from .lambdarank import LambdaRanker
from .logistic import LogisticRanker
from .ranker import Ranker


def refit_rankers(
    full: TrainingSet, rankers: dict[str, Ranker], config: TrainConfig, booster: BoosterParams
) -> dict[str, Ranker]:
    """Each ranker of `rankers` fitted again on `full`, as many trees per model as before."""
    out: dict[str, Ranker] = {}
    for name, ranker in rankers.items():
        again: Ranker
        if isinstance(ranker, HeadsRanker):
            again = HeadsRanker(
                booster,
                ranker.weights,
                ipw=ranker.ipw,
                negative_rate=config.negative_rate_for(len(full.frame)),
                seed=config.seed,
                rounds={label: ranker.rounds(label) for label in ranker.boosters},
            )
        elif isinstance(ranker, LambdaRanker):
            trees = ranker.booster.best_iteration or ranker.booster.num_trees()
            again = LambdaRanker(booster, config.seed, rounds=trees)
        else:
            again = LogisticRanker(seed=config.seed)
        again.fit(full, full)
        again.metrics = ranker.metrics
        out[name] = again
    return out
