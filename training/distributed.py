"""Binary LightGBM boosters trained on a Dask cluster with `lightgbm.dask`.

The rows are split into one chunk per worker and LightGBM trains data-parallel across
them. `lightgbm.dask` has no early stopping, so the booster trains every round and
the best iteration is then chosen the way `lgb.early_stopping` would have chosen it:
the validation log loss after each round, stopping the search once `patience` rounds
bring no improvement. The booster returned is a plain `lgb.Booster` with that
`best_iteration`, saved and served exactly like a single-machine one.
"""

from __future__ import annotations

import math
import warnings
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
    workers = max(1, len(client.scheduler_info()["workers"]))
    return rows >= ROWS_PER_WORKER_PER_LEAF * min_data_in_leaf * workers


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

    workers = max(1, len(client.scheduler_info()["workers"]))
    rows = max(1, math.ceil(len(x) / workers))
    settings: dict[str, Any] = {
        _RENAMED.get(k, k): v for k, v in params.items() if k not in _DROPPED
    }
    model = DaskLGBMClassifier(client=client, n_estimators=rounds, **settings)
    with warnings.catch_warnings():
        # the scikit-learn wrapper always passes n_jobs, which lightgbm.dask then ignores
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        model.fit(
            da.from_array(x, chunks=(rows, x.shape[1])),
            da.from_array(y, chunks=rows),
            sample_weight=da.from_array(weight, chunks=rows),
        )
    booster: lgb.Booster = model.booster_
    booster.best_iteration = best_iteration(booster, x_valid, y_valid, patience)
    return booster


def best_iteration(booster: lgb.Booster, x: np.ndarray, y: np.ndarray, patience: int) -> int:
    """The round `lgb.early_stopping(patience)` would keep: the lowest validation
    log loss, searching until `patience` rounds in a row fail to improve on it."""
    raw = np.zeros(len(x))
    best, best_loss = 1, math.inf
    for i in range(booster.num_trees()):
        raw += booster.predict(x, start_iteration=i, num_iteration=1, raw_score=True)
        # log loss from raw scores: log(1 + e^-z) for positives, log(1 + e^z) otherwise
        loss = float(np.mean(np.logaddexp(0.0, np.where(y > 0, -raw, raw))))
        if loss < best_loss:
            best, best_loss = i + 1, loss
        elif i + 1 - best >= patience:
            break
    return best
