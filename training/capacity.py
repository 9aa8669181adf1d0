"""The LightGBM models' capacity, sized to the data: a small search on the validation split.

A 5k-row surface and a 900k-row surface want different trees. The primary head (click,
join) is fitted for a few (leaves, minimum rows per leaf) settings, each with early
stopping on validation, and the setting with the lowest validation log loss is kept for
every head and LambdaRank. A coordinate search keeps it cheap: leaves first at the
middle leaf size, then leaf sizes at the best leaves; it stops when `budget_s` is spent.
"""

from __future__ import annotations

import logging
import time
from typing import Any

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


def leaf_sizes(rows: int) -> list[int]:
    """Distinct minimum-rows-per-leaf settings for a training set of `rows` rows."""
    sizes = (min(MAX_LEAF_ROWS, max(MIN_LEAF_ROWS, round(rows * s))) for s in LEAF_SHARES)
    return sorted(set(sizes))


def search_capacity(
    train: TrainingSet,
    valid: TrainingSet,
    base: BoosterParams,
    negative_rate: float,
    seed: int,
    budget_s: float,
) -> tuple[BoosterParams, dict[str, Any]]:
    """The booster settings with the lowest validation log loss of the primary head, and
    a record of every setting tried (leaves, leaf rows, rounds, log loss)."""
    started = time.perf_counter()
    primary = train.primary
    sizes = leaf_sizes(len(train.frame))
    tried: list[dict[str, Any]] = []

    def fit(leaves: int, leaf_rows: int) -> float:
        for row in tried:
            if (row["num_leaves"], row["min_data_in_leaf"]) == (leaves, leaf_rows):
                return float(row["logloss"])
        params = base.model_copy(update={"num_leaves": leaves, "min_data_in_leaf": leaf_rows})
        head = HeadsRanker(params, {primary: 1.0}, negative_rate=negative_rate, seed=seed)
        try:
            head.fit(train, valid)
        except ModelError:
            return float("inf")
        loss = head.metrics.get(f"{primary}_logloss", float("inf"))
        tried.append(
            {
                "num_leaves": leaves,
                "min_data_in_leaf": leaf_rows,
                "rounds": int(head.metrics.get(f"{primary}_rounds", 0)),
                "logloss": round(loss, 6),
            }
        )
        return loss

    def spent() -> bool:
        return time.perf_counter() - started > budget_s

    middle = sizes[len(sizes) // 2]
    with step(f"capacity search {train.surface}: leaves {LEAVES}, leaf rows {sizes}"):
        best_leaves = min(
            (leaves for leaves in LEAVES if not (tried and spent())),
            key=lambda leaves: fit(leaves, middle),
        )
        best_rows = min(
            (rows for rows in sizes if rows == middle or not spent()),
            key=lambda rows: fit(best_leaves, rows),
        )
    chosen = base.model_copy(update={"num_leaves": best_leaves, "min_data_in_leaf": best_rows})
    record = {
        "tried": tried,
        "num_leaves": best_leaves,
        "min_data_in_leaf": best_rows,
        "seconds": round(time.perf_counter() - started, 1),
    }
    log.info("%s: capacity %d leaves, %d rows per leaf", train.surface, best_leaves, best_rows)
    return chosen, record
