"""One pipeline run for the one-user requests that queue up while another run is busy.

A worker process serves requests on several threads, but they take turns on one
interpreter: while one request ranks, the others wait. A run for several users costs
less per user than a run for each (in process, 1,000 candidates a user: 5.8, 4.7, 3.8
and 3.2 ms per user for 1, 2, 4 and 8 users per run), so the requests that arrived
during a run are ranked together in the next one. A request that finds no run busy
starts its own at once: combining adds no wait when the server is idle, and cuts the
work per request when it is loaded.

A user's list does not depend on who else is in the run (every shipped strategy is
tested for that), so a combined request gets the page it would have got alone.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .components import RankContext
from .pipeline import RankResult

MAX_USERS = 16  # per combined run: more waits longer than it saves


class _Runs(Protocol):
    def run(self, ctx: RankContext, users: np.ndarray, limit: int) -> RankResult: ...


@dataclass(eq=False)
class _Ask:
    key: tuple[int, str, object]
    pipeline: _Runs
    ctx: RankContext
    user: str
    limit: int
    result: RankResult | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass
class CombineStats:
    """Requests served and pipeline runs made (requests / runs = users per run)."""

    requests: int = 0
    runs: int = 0
    sizes: Counter[int] = field(default_factory=Counter)  # runs per number of users


class Combiner:
    """`run(pipeline, ctx, user, limit)` = `pipeline.run(ctx, [user], limit)`, with
    requests for the same pipeline and context that wait meanwhile run together."""

    def __init__(self, max_users: int = MAX_USERS) -> None:
        if max_users < 1:
            raise ValueError(f"max_users must be positive, got {max_users}")
        self.max_users = max_users
        self.stats = CombineStats()
        self._cond = threading.Condition()
        self._queue: list[_Ask] = []
        self._busy = False

    def run(self, pipeline: _Runs, ctx: RankContext, user: str, limit: int) -> RankResult:
        key = (id(pipeline), ctx.surface, ctx.as_of)
        ask = _Ask(key, pipeline, ctx, user, limit)
        with self._cond:
            self._queue.append(ask)
            while self._busy and not ask.done:
                self._cond.wait()
            if not ask.done:  # no run busy: lead one, for every request like this one
                self._busy = True
                batch = [a for a in self._queue if a.key == key][: self.max_users]
                if ask not in batch:  # more than max_users queued ahead: lead them
                    batch[-1] = ask
                self._queue = [a for a in self._queue if a not in batch]
        if not ask.done:
            self._lead(batch)
        if ask.error is not None:
            raise ask.error
        assert ask.result is not None
        return ask.result

    def _lead(self, batch: list[_Ask]) -> None:
        first = batch[0]
        users = np.array([a.user for a in batch], dtype=object)
        results: list[RankResult] | None = None
        failure: BaseException | None = None
        try:
            result = first.pipeline.run(first.ctx, users, max(a.limit for a in batch))
            results = _split(result, batch)
        except BaseException as error:  # every request of the run gets it
            failure = error
        with self._cond:
            for i, a in enumerate(batch):
                a.error = failure
                a.result = None if results is None else results[i]
                a.done = True
            self.stats.requests += len(batch)
            self.stats.runs += 1
            self.stats.sizes[len(batch)] += 1
            self._busy = False
            self._cond.notify_all()


def _split(result: RankResult, batch: list[_Ask]) -> list[RankResult]:
    """Each request's own page (its user's rows, to its limit). The run's candidate and
    removal counts, stage times and users go to the first request alone, so that
    counters summed over requests count each run once."""
    if len(batch) == 1:  # the idle case: the run was this request's alone
        return [result]
    ranked = result.ranked
    rows = ranked.groupby("user_id", sort=False).indices if len(ranked) else {}
    out = []
    for i, a in enumerate(batch):
        mine = rows.get(a.user, np.empty(0, dtype=np.intp))
        page = ranked.take(mine[ranked["rank"].to_numpy()[mine] < a.limit])
        own = RankResult(ranked=page.reset_index(drop=True))
        if i == 0:
            own.candidates, own.removed = result.candidates, result.removed
            own.seconds, own.users = result.seconds, result.users
        out.append(own)
    return out
