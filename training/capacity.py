"""The LightGBM models' capacity, sized to the data: a small search on the validation split.

A 5k-row surface and a 900k-row surface want different trees. The primary head (click,
join) is fitted for a few (leaves, minimum rows per leaf) settings, each with early
stopping on validation, and the setting with the lowest validation log loss is kept for
every head and LambdaRank. A coordinate search keeps it cheap: leaves first at the
middle leaf size, then leaf sizes at the best leaves (at most five fits), on at most
`search_rows` training rows (whole requests). No wall clock decides anything: the same
data gives the same choice.
Leaf sizes are searched as shares of the training rows, so the chosen share carries
over to the full training set.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from circlerank.errors import ModelError
from circlerank.progress import step

from .config import BoosterParams
from .dataset import TrainingSet
from .heads import HeadsRanker

log = logging.getLogger(__name__)
LEAVES = (7, 15, 31)
# minimum rows per leaf as shares of the training rows, bounded below by MIN_LEAF_ROWS
LEAF_SHARES = (0.0005, 0.002, 0.008)
MIN_LEAF_ROWS = 5
MAX_LEAF_ROWS = 2_000


def leaf_rows(rows: int, share: float) -> int:
    """Minimum rows per leaf: `share` of `rows`, within [MIN_LEAF_ROWS, MAX_LEAF_ROWS]."""
    return min(MAX_LEAF_ROWS, max(MIN_LEAF_ROWS, round(rows * share)))


def requests_sample(train: TrainingSet, rows: int, seed: int) -> TrainingSet:
    """At most about `rows` rows of `train`, whole requests drawn at random."""
    if len(train.frame) <= rows:
        return train
    request = train.frame["request_id"].astype("str")
    codes, uniques = pd.factorize(request)
    keep = np.random.default_rng(seed).random(len(uniques)) < rows / len(train.frame)
    frame = train.frame[keep[codes]].reset_index(drop=True)
    return TrainingSet(train.surface, frame, train.features)


def search_capacity(
    train: TrainingSet,
    valid: TrainingSet,
    base: BoosterParams,
    negative_rate: float,
    seed: int,
    search_rows: int,
) -> tuple[BoosterParams, dict[str, Any]]:
    """The booster settings with the lowest validation log loss of the primary head, and
    a record of every setting tried (leaves, leaf rows, rounds, log loss)."""
    started = time.perf_counter()
    primary = train.primary
    sample = requests_sample(train, search_rows, seed)
    tried: list[dict[str, Any]] = []

    def fit(leaves: int, share: float) -> float:
        for row in tried:
            if (row["num_leaves"], row["leaf_share"]) == (leaves, share):
                return float(row["logloss"])
        update = {"num_leaves": leaves, "min_data_in_leaf": leaf_rows(len(sample.frame), share)}
        head = HeadsRanker(
            base.model_copy(update=update), {primary: 1.0}, negative_rate=negative_rate, seed=seed
        )
        try:
            head.fit(sample, valid)
        except ModelError:
            return float("inf")
        loss = head.metrics.get(f"{primary}_logloss", float("inf"))
        tried.append(
            {
                "num_leaves": leaves,
                "leaf_share": share,
                **update,
                "rounds": int(head.metrics.get(f"{primary}_rounds", 0)),
                "logloss": round(loss, 6),
            }
        )
        return loss

    middle = LEAF_SHARES[len(LEAF_SHARES) // 2]
    what = f"capacity search {train.surface} on {len(sample.frame):,} rows"
    with step(f"{what}: leaves {LEAVES}, leaf shares {LEAF_SHARES}"):
        best_leaves = min(LEAVES, key=lambda leaves: fit(leaves, middle))
        best_share = min(LEAF_SHARES, key=lambda share: fit(best_leaves, share))
    rows = leaf_rows(len(train.frame), best_share)
    chosen = base.model_copy(update={"num_leaves": best_leaves, "min_data_in_leaf": rows})
    record = {
        "tried": tried,
        "search_rows": len(sample.frame),
        "num_leaves": best_leaves,
        "leaf_share": best_share,
        "min_data_in_leaf": rows,
        "seconds": round(time.perf_counter() - started, 1),
    }
    log.info("%s: capacity %d leaves, %d rows per leaf", train.surface, best_leaves, rows)
    return chosen, record
