"""Randomized slot filling with exact propensities, for off-policy evaluation.

A deterministic policy shows its best-first list, so each shown item's propensity is 1.
An exploring policy fills a page slot by slot from the best `pool` candidates. The
propensity it logs for an item is the probability that the policy put that item in
that slot, given the items already placed above it. Multiplied over a page, these give
the probability of the whole page.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class Exploration(BaseModel):
    """How an exploring arm fills slots.

    epsilon_greedy: with probability `epsilon` a slot takes a uniformly random remaining
    pool item, otherwise the best remaining one.
    plackett_luce: a slot takes remaining item i with probability proportional to
    exp(score_i / temperature); `temperature` is in score units.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["epsilon_greedy", "plackett_luce"]
    epsilon: float = Field(default=0.1, gt=0, le=1)
    temperature: float = Field(default=1.0, gt=0)
    pool: int = Field(default=50, ge=1, le=1000)


def fill_slots(
    scores: np.ndarray,
    slots: int,
    exploration: Exploration | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions in `scores` (a best-first list) that fill the first `slots` slots, in
    slot order, and each one's propensity. Without exploration: the first `slots`
    items, each with propensity 1."""
    scores = np.asarray(scores, dtype=np.float64)
    if exploration is None:
        shown = np.arange(min(slots, len(scores)))
        return shown, np.ones(len(shown))
    pool = min(len(scores), exploration.pool)
    remaining = list(range(pool))  # best first: remaining[0] is the best left
    chosen, propensity = [], []
    if exploration.kind == "plackett_luce":
        finite = np.nan_to_num(scores[:pool], nan=-np.inf)
        weight = np.exp((finite - finite.max(initial=-np.inf)) / exploration.temperature)
        if not np.isfinite(weight).all() or weight.sum() <= 0:
            weight = np.ones(pool)
    for _ in range(min(slots, pool)):
        if exploration.kind == "epsilon_greedy":
            n = len(remaining)
            pick = int(rng.integers(n)) if rng.random() < exploration.epsilon else 0
            p = exploration.epsilon / n + (1.0 - exploration.epsilon) * (pick == 0)
        else:
            w = weight[remaining]
            total = w.sum()  # 0 only when every weight left underflowed: then uniform
            probabilities = w / total if total > 0 else np.full(len(w), 1.0 / len(w))
            pick = int(rng.choice(len(remaining), p=probabilities))
            p = float(probabilities[pick])
        chosen.append(remaining.pop(pick))
        propensity.append(p)
    return np.asarray(chosen, dtype=np.intp), np.asarray(propensity, dtype=np.float64)
