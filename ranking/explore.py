"""Randomized pages with exact propensities, for off-policy evaluation.

A deterministic policy shows its best-first list, so each shown item's propensity is 1.
An exploring policy (epsilon-greedy over slates) shows, with probability `epsilon`, a
uniformly random ordering of the best `pool` candidates instead of the best-first page.
The propensity it logs for an item is the data contract's: the probability that the
policy put that item in that slot. For the item ranked r among the N pooled candidates,
that is (1 - epsilon) * [r == slot] + epsilon / N, exactly. These are the marginals that
position-based and pseudo-inverse slate estimators need. The simulator's logging policy
has the same form.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class Exploration(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["epsilon_greedy"] = "epsilon_greedy"
    epsilon: float = Field(default=0.1, gt=0, le=1)
    pool: int = Field(default=50, ge=1, le=1000)  # widened to the page length if shorter


def fill_slots(
    scores: np.ndarray,
    slots: int,
    exploration: Exploration | None,
    rng: np.random.Generator | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions in `scores` (a best-first list) that fill the first `slots` slots, in
    slot order, and each one's propensity. Without exploration: the first `slots`
    items, each with propensity 1 (and `rng` may be None)."""
    n = len(scores)
    if exploration is None:
        shown = np.arange(min(slots, n))
        return shown, np.ones(len(shown))
    if rng is None:
        raise ValueError("exploration draws from a random generator: pass rng")
    pool = min(n, max(exploration.pool, slots))
    if pool == 0:  # nothing left to show (a session's last page was exactly full)
        return np.zeros(0, dtype=np.intp), np.ones(0)
    page = min(slots, pool)
    explore = rng.random() < exploration.epsilon
    shown = rng.permutation(pool)[:page] if explore else np.arange(page)
    best_first = shown == np.arange(page)
    propensity = exploration.epsilon / pool + (1.0 - exploration.epsilon) * best_first
    return shown.astype(np.intp), propensity
