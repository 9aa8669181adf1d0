"""Logging policies: which candidates a request shows, in which slots, and the exact
probability of each (item, slot) under the policy (the logged propensity).

A policy works on many requests at once: candidate rows come grouped by request (a sorted
`group` array), each with a heuristic score. Other strategies for closed-loop A/B
simulation implement the same `SlatePolicy` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from circlerank.errors import ConfigError

from .posts import Posts


@dataclass(frozen=True)
class Slates:
    """What was shown: candidate row, slot (0-based) and propensity, ordered by
    (group, slot); `explored[g]` says whether request g was randomised."""

    row: np.ndarray
    slot: np.ndarray
    propensity: np.ndarray
    explored: np.ndarray


class SlatePolicy(Protocol):
    """A strategy that fills slates for a batch of requests."""

    @property
    def name(self) -> str:
        """The strategy's stable name (logged as the arm)."""
        ...

    def select(
        self,
        rng: np.random.Generator,
        group: np.ndarray,
        scores: np.ndarray,
        slate_size: int,
        users: np.ndarray | None = None,
        day: int | None = None,
    ) -> Slates:
        """Slates for the requests in `group`; `users` (the user index of each candidate
        row) and `day` let a policy split users into experiment arms."""
        ...


def group_bounds(group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted group ids -> (unique ids, first row of each, row count of each)."""
    if len(group) and np.any(group[1:] < group[:-1]):
        raise ValueError("candidate rows must be sorted by group")
    ids, first, count = np.unique(group, return_index=True, return_counts=True)
    return ids, first, count


def heuristic_rank(group: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """0-based rank of each row within its group by descending score; ties go to the
    earlier row (the sort is stable), so the deterministic slate is a pure function of the
    candidates."""
    n = len(group)
    order = np.lexsort((-scores, group))
    _, first, count = group_bounds(group)
    pos = np.arange(n) - np.repeat(first, count)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = pos
    return rank


@dataclass(frozen=True)
class EpsilonGreedySlates:
    """With probability epsilon a uniformly random ordering of k candidates, otherwise the
    top k by heuristic score. For an item with heuristic rank r among N candidates,
    P(shown in slot k) = (1 - epsilon) * [r == k] + epsilon / N, exactly."""

    epsilon: float
    name: str = "logging"

    def __post_init__(self) -> None:
        if not 0.0 < self.epsilon <= 1.0:
            raise ConfigError(f"explore_epsilon must be in (0, 1], got {self.epsilon!r}")

    def select(
        self,
        rng: np.random.Generator,
        group: np.ndarray,
        scores: np.ndarray,
        slate_size: int,
        users: np.ndarray | None = None,
        day: int | None = None,
    ) -> Slates:
        n = len(group)
        ids, _, count = group_bounds(group)
        explored = rng.random(len(ids)) < self.epsilon
        noise = rng.random(n)
        rank = heuristic_rank(group, scores)
        row_group = np.repeat(np.arange(len(ids)), count)
        in_explored = explored[row_group]
        det_rows = np.flatnonzero(~in_explored & (rank < slate_size))
        det_slot = rank[det_rows]
        # explored requests: a uniformly random order of all their candidates, cut at k
        exp_rows = np.flatnonzero(in_explored)
        exp_rows = exp_rows[np.lexsort((noise[exp_rows], group[exp_rows]))]
        starts = np.searchsorted(group[exp_rows], group[exp_rows], side="left")
        exp_slot = np.arange(len(exp_rows)) - starts
        keep = exp_slot < slate_size
        row = np.concatenate([det_rows, exp_rows[keep]])
        slot = np.concatenate([det_slot, exp_slot[keep]])
        order = np.lexsort((slot, group[row]))
        row, slot = row[order], slot[order]
        n_cand = count[row_group[row]]
        prop = (1.0 - self.epsilon) * (rank[row] == slot) + self.epsilon / n_cand
        return Slates(row=row, slot=slot, propensity=prop, explored=explored)

    def choose(
        self, rng: np.random.Generator, scores: np.ndarray, slate_size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """One request: (chosen candidate indices in slot order, their propensities)."""
        s = self.select(rng, np.zeros(len(scores), dtype=np.int64), scores, slate_size)
        return s.row, s.propensity


@dataclass(frozen=True)
class Sessions:
    """A batch of feed requests: who asked, when, and the simulator's own candidates
    for them (rows grouped by request, as a SlatePolicy takes them)."""

    day: int
    user: np.ndarray
    ts_us: np.ndarray
    group: np.ndarray  # candidate row -> request
    post: np.ndarray  # candidate row -> post
    score: np.ndarray  # candidate row -> the simulator's heuristic score
    posts: Posts  # what the post indices point at


@dataclass(frozen=True)
class Shown:
    """What a feed server showed: request, post, slot and propensity, one row each."""

    request: np.ndarray
    post: np.ndarray
    slot: np.ndarray
    propensity: np.ndarray


@runtime_checkable
class FeedServer(Protocol):
    """A feed that picks its own posts for each request (an engine strategy), instead
    of ordering the simulator's candidates."""

    @property
    def name(self) -> str: ...

    def serve(self, rng: np.random.Generator, sessions: Sessions, slate_size: int) -> Shown:
        """The posts shown to each request of `sessions`."""
        ...
