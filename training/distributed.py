"""LightGBM boosters trained on a Dask cluster with `lightgbm.dask`: binary heads
and LambdaRank.

The rows are split into one chunk per worker (LambdaRank: at query boundaries) and
LightGBM trains data-parallel across them. `lightgbm.dask` has no early stopping, so
the booster trains every round and the best iteration is then chosen the way
`lgb.early_stopping` would have chosen it: the validation metric after each round
(log loss; NDCG@k for LambdaRank), stopping the search once `patience` rounds bring no
improvement. The booster returned is a plain `lgb.Booster` with that `best_iteration`,
saved and served exactly like a single-machine one.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np

# LightGBM's own parameter names, as the scikit-learn interface takes them; threads
# are the workers' own (lightgbm.dask ignores n_jobs)
_RENAMED = {"seed": "random_state"}
_DROPPED = {"objective", "num_threads"}


# Below this many rows per worker and per `min_data_in_leaf` a head trains on the
# driver: data-parallel LightGBM then finds few or no splits (seen: a 1,170-row head at
# min_data_in_leaf 400 grew one leaf on two workers, 496 rounds on one machine).
ROWS_PER_WORKER_PER_LEAF = 20


def worth_distributing(client: Any, rows: int, min_data_in_leaf: int) -> bool:
    return rows >= ROWS_PER_WORKER_PER_LEAF * min_data_in_leaf * _workers(client)


def fit_binary_on_cluster(
    client: Any,
    params: dict[str, object],
    rounds: int,
    patience: int,
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
) -> lgb.Booster:
    import dask.array as da
    from lightgbm import DaskLGBMClassifier

    rows = max(1, math.ceil(len(x) / _workers(client)))
    settings = _settings(params)
    model = DaskLGBMClassifier(client=client, n_estimators=rounds, **settings)
    booster = _fit(
        model,
        da.from_array(x, chunks=(rows, x.shape[1])),
        da.from_array(y, chunks=rows),
        sample_weight=da.from_array(weight, chunks=rows),
    )
    booster.best_iteration = best_iteration(booster, x_valid, y_valid, patience)
    return booster


def fit_lambdarank_on_cluster(
    client: Any,
    params: dict[str, object],
    rounds: int,
    patience: int,
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray, np.ndarray],
    cutoff: int,
) -> lgb.Booster:
    """LambdaRank on the cluster; `train` and `valid` are (x, graded labels, query
    group sizes) with each query's rows consecutive."""
    import dask.array as da
    from lightgbm import DaskLGBMRanker

    x, y, groups = train
    workers = _workers(client)
    # cut the queries into one run per worker, at the query nearest each equal share
    ends = np.cumsum(groups)
    cuts = np.searchsorted(ends, np.arange(1, workers) * len(x) / workers)
    bounds = np.unique(np.r_[0, cuts + 1, len(groups)])
    group_chunks = tuple(int(n) for n in np.diff(bounds))
    row_chunks = tuple(int(n) for n in np.diff(np.r_[0, ends][bounds]))
    settings = _settings(params)
    model = DaskLGBMRanker(client=client, n_estimators=rounds, **settings)
    booster = _fit(
        model,
        da.from_array(x, chunks=(row_chunks, x.shape[1])),
        da.from_array(y, chunks=(row_chunks,)),
        group=da.from_array(groups, chunks=(group_chunks,)),
    )
    x_valid, y_valid, groups_valid = valid
    metric = ndcg_at(y_valid, groups_valid, cutoff)
    booster.best_iteration = _best_round(booster, x_valid, metric, patience, higher=True)
    return booster


def _fit(model: Any, *args: Any, **kwargs: Any) -> lgb.Booster:
    """Fit a lightgbm.dask model and return its booster."""
    with warnings.catch_warnings():
        # the scikit-learn wrapper always passes n_jobs, which lightgbm.dask then ignores
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        model.fit(*args, **kwargs)
    booster: lgb.Booster = model.booster_
    return booster


def _workers(client: Any) -> int:
    return max(1, len(client.scheduler_info()["workers"]))


def _settings(params: dict[str, object]) -> dict[str, Any]:
    """LightGBM parameters as the scikit-learn wrappers take them."""
    return {_RENAMED.get(k, k): v for k, v in params.items() if k not in _DROPPED}


def best_iteration(booster: lgb.Booster, x: np.ndarray, y: np.ndarray, patience: int) -> int:
    """The round `lgb.early_stopping(patience)` would keep: the lowest validation
    log loss, searching until `patience` rounds in a row fail to improve on it."""

    def log_loss(raw: np.ndarray) -> float:
        # from raw scores: log(1 + e^-z) for positives, log(1 + e^z) otherwise
        return float(np.mean(np.logaddexp(0.0, np.where(y > 0, -raw, raw))))

    return _best_round(booster, x, log_loss, patience, higher=False)


def _best_round(
    booster: lgb.Booster,
    x: np.ndarray,
    metric: Callable[[np.ndarray], float],
    patience: int,
    higher: bool,
) -> int:
    """Add one tree at a time to the raw scores of `x` and keep the best round of
    `metric`, as early stopping does (a round must beat the best strictly)."""
    sign = -1.0 if higher else 1.0
    raw = np.zeros(len(x))
    best, best_value = 1, math.inf
    for i in range(booster.num_trees()):
        raw += booster.predict(x, start_iteration=i, num_iteration=1, raw_score=True)
        value = sign * metric(raw)
        if value < best_value:
            best, best_value = i + 1, value
        elif i + 1 - best >= patience:
            break
    return best


def ndcg_at(y: np.ndarray, groups: np.ndarray, k: int) -> Callable[[np.ndarray], float]:
    """LightGBM's NDCG@k of raw scores: gains 2^label - 1, discount log2(rank + 2), ties
    in score kept in row order (a stable sort), a query without any relevant row
    counting 1, the mean over queries."""
    query = np.repeat(np.arange(len(groups)), groups)
    start = np.r_[0, np.cumsum(groups)[:-1]]
    gain = np.exp2(y.astype(np.float64)) - 1.0
    discount = 1.0 / np.log2(np.arange(int(groups.max(initial=1))) + 2.0)

    def dcg(order: np.ndarray) -> np.ndarray:
        rank = np.arange(len(order)) - np.repeat(start, groups)
        top = rank < k
        return np.bincount(
            query[top], weights=gain[order][top] * discount[rank[top]], minlength=len(groups)
        )

    ideal = dcg(np.lexsort((-gain, query)))

    def ndcg(raw: np.ndarray) -> float:
        got = dcg(np.lexsort((-raw, query)))
        per_query = np.divide(got, ideal, out=np.ones(len(groups)), where=ideal > 0)
        return float(per_query.mean())

    return ndcg
