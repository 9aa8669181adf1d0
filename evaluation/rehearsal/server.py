"""Serving a rehearsal's feed: each request by the arm of its user, from the start day on.

A simulator policy orders the simulator's candidates for its arm's requests; an engine
strategy's pages come from a page source (the engine, ranked at the day's start), less
what a live server would not show at the request's time: posts deleted since, and the
user's own posts (the simulator's readers do not act on their own posts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..simulator.memberships import expand_ranges
from ..simulator.policy import Sessions, Shown, SlatePolicy
from .arms import ArmSpec
from .engine import Ranked

PAGE_SPARE = 2  # engine pages are ranked this many times longer, for what is dropped


class PageSource(Protocol):
    def pages(self, day: int, strategy: str, users: np.ndarray, limit: int) -> Ranked:
        """Ranked pages of `strategy` for `users` (simulator user indices) on `day`."""
        ...


@dataclass
class ArmServer:
    """A FeedServer for the rehearsal: `arm_of_user[u]` indexes `arms`; before
    `start_day` every request gets `pre`."""

    arms: list[ArmSpec]
    arm_of_user: np.ndarray
    policies: dict[str, SlatePolicy]  # the simulator policies' arms
    pre: SlatePolicy
    start_day: int
    engine: PageSource | None = None
    name: str = "rehearsal"

    def serve(self, rng: np.random.Generator, sessions: Sessions, slate_size: int) -> Shown:
        group, score = sessions.group, sessions.score
        if sessions.day < self.start_day:
            got = self.pre.select(rng, group, score, slate_size)
            return Shown(group[got.row], sessions.post[got.row], got.slot, got.propensity)
        arm_of_request = self.arm_of_user[sessions.user]
        parts = []
        for i, arm in enumerate(self.arms):
            requests = np.flatnonzero(arm_of_request == i)
            if not len(requests):
                continue
            if arm.engine:
                parts.append(self._engine(arm.name, sessions, requests, slate_size))
                continue
            rows = np.flatnonzero(arm_of_request[group] == i)
            got = self.policies[arm.name].select(rng, group[rows], score[rows], slate_size)
            picked = rows[got.row]
            parts.append(Shown(group[picked], sessions.post[picked], got.slot, got.propensity))
        return _concat(parts)

    def _engine(
        self, strategy: str, sessions: Sessions, requests: np.ndarray, slate_size: int
    ) -> Shown:
        if self.engine is None:
            raise RuntimeError(f"arm {strategy!r} is an engine strategy but no engine was given")
        user, ts = sessions.user[requests], sessions.ts_us[requests]
        ranked = self.engine.pages(sessions.day, strategy, user, PAGE_SPARE * slate_size)
        lo = np.searchsorted(ranked.user, user, side="left")
        hi = np.searchsorted(ranked.user, user, side="right")
        pair, rows = expand_ranges(lo, hi)
        request, post = requests[pair], ranked.post[rows]
        p = sessions.posts
        t = ts[pair]
        live = (p.created_us[post] < t) & (p.deleted_us[post] > t) & (p.author[post] != user[pair])
        request, post = request[live], post[live]
        first = np.searchsorted(request, request, side="left")
        slot = np.arange(len(request)) - first
        keep = slot < slate_size
        n = int(keep.sum())
        return Shown(request[keep], post[keep], slot[keep], np.ones(n))


def _concat(parts: list[Shown]) -> Shown:
    if not parts:
        z = np.zeros(0, dtype=np.int64)
        return Shown(z, z, z, np.zeros(0))
    request = np.concatenate([s.request for s in parts])
    slot = np.concatenate([s.slot for s in parts])
    order = np.lexsort((slot, request))
    return Shown(
        request[order],
        np.concatenate([s.post for s in parts])[order],
        slot[order],
        np.concatenate([s.propensity for s in parts])[order],
    )
