"""One pipeline run for the one-user requests that queue up while another run is busy.

A worker process ranks one request at a time: Python runs one thread at once, and the
API ranks on its event loop. A run for several users costs less per user than a run
for each (in process, 1,000 candidates a user: 5.8, 4.7, 3.8 and 3.2 ms per user for
1, 2, 4 and 8 users per run), so the requests that arrived during a run are ranked
together in the next one. A request that finds no run busy starts its own at once:
combining adds no wait when the server is idle, and cuts the work per request when it
is loaded.

`Combiner` does this for requests on threads (offline replay, any caller that blocks);
`LoopCombiner` for requests served on an asyncio event loop (the API), where the runs
take place on the loop itself: no hand-off to a thread per request, and no thread
contending with the loop's own HTTP work while a run holds the interpreter.

A user's list does not depend on who else is in the run (every shipped strategy is
tested for that), so a combined request gets the page it would have got alone.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from circlerank.frames import frame_of, values_of

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

    @classmethod
    def of(cls, pipeline: _Runs, ctx: RankContext, user: str, limit: int) -> _Ask:
        """A request; those with equal keys can share a run."""
        return cls((id(pipeline), ctx.surface, ctx.as_of), pipeline, ctx, user, limit)


@dataclass
class CombineStats:
    """Requests served and pipeline runs made (requests / runs = users per run)."""

    requests: int = 0
    runs: int = 0
    sizes: Counter[int] = field(default_factory=Counter)  # runs per number of users

    def count(self, users: int) -> None:
        self.requests += users
        self.runs += 1
        self.sizes[users] += 1


class _Combining:
    """What both combiners hold: the most users a run takes, and counts of runs."""

    def __init__(self, max_users: int = MAX_USERS) -> None:
        if max_users < 1:
            raise ValueError(f"max_users must be positive, got {max_users}")
        self.max_users = max_users
        self.stats = CombineStats()


class Combiner(_Combining):
    """`run(pipeline, ctx, user, limit)` = `pipeline.run(ctx, [user], limit)`, with
    requests for the same pipeline and context that wait meanwhile run together."""

    def __init__(self, max_users: int = MAX_USERS) -> None:
        super().__init__(max_users)
        self._cond = threading.Condition()
        self._queue: list[_Ask] = []
        self._busy = False

    def run(self, pipeline: _Runs, ctx: RankContext, user: str, limit: int) -> RankResult:
        ask = _Ask.of(pipeline, ctx, user, limit)
        key = ask.key
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
        outcome = _run_together(batch)
        with self._cond:
            for i, a in enumerate(batch):
                if isinstance(outcome, BaseException):
                    a.error = outcome
                else:
                    a.result = outcome[i]
                a.done = True
            self.stats.count(len(batch))
            self._busy = False
            self._cond.notify_all()


class LoopCombiner(_Combining):
    """`await run(pipeline, ctx, user, limit)` = `pipeline.run(ctx, [user], limit)`, for
    requests served on an asyncio event loop. The first request to arrive schedules a
    run on the loop, which takes every request like it that arrived meanwhile (up to
    max_users); requests that arrive while that run holds the loop wait for the next."""

    def __init__(self, max_users: int = MAX_USERS) -> None:
        super().__init__(max_users)
        # per event loop (an app may be served by more than one over its life, as in
        # tests): the requests waiting for a run there
        self._waiting: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, list[tuple[_Ask, asyncio.Future[RankResult]]]
        ] = weakref.WeakKeyDictionary()

    async def run(self, pipeline: _Runs, ctx: RankContext, user: str, limit: int) -> RankResult:
        loop = asyncio.get_running_loop()
        ask = _Ask.of(pipeline, ctx, user, limit)
        answer: asyncio.Future[RankResult] = loop.create_future()
        waiting = self._waiting.setdefault(loop, [])
        if not waiting:
            loop.call_soon(self._next_run, loop)
        waiting.append((ask, answer))
        return await answer

    def _next_run(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the oldest waiting request with those like it; schedule the next run
        (after the loop has read the requests that arrived during this one)."""
        waiting = self._waiting.get(loop, [])
        key = waiting[0][0].key
        batch = [w for w in waiting if w[0].key == key][: self.max_users]
        self._waiting[loop] = rest = [w for w in waiting if w not in batch]
        if rest:
            loop.call_soon(self._next_run, loop)
        outcome = _run_together([a for a, _ in batch])
        self.stats.count(len(batch))
        for i, (_, answer) in enumerate(batch):
            if answer.cancelled():  # the client went away
                continue
            if isinstance(outcome, BaseException):
                answer.set_exception(outcome)
            else:
                answer.set_result(outcome[i])


def _run_together(batch: list[_Ask]) -> list[RankResult] | BaseException:
    """One pipeline run for the batch: each request's result, in batch order, or the
    run's error (which every request of the batch gets)."""
    first = batch[0]
    users = np.array([a.user for a in batch], dtype=object)
    try:
        result = first.pipeline.run(first.ctx, users, max(a.limit for a in batch))
        return _split(result, batch)
    except BaseException as error:
        return error


def _split(result: RankResult, batch: list[_Ask]) -> list[RankResult]:
    """Each request's own page (its user's rows, to its limit). The run's candidate and
    removal counts, stage times and users go to the first request alone, so that
    counters summed over requests count each run once."""
    if len(batch) == 1:  # the idle case: the run was this request's alone
        return [result]
    # arrays, not groupby and take: a run's page is a few hundred rows at most
    columns = {name: values_of(result.ranked, name) for name in result.ranked.columns}
    user, rank = columns["user_id"], columns["rank"]
    out = []
    for i, a in enumerate(batch):
        mine = np.flatnonzero((user == a.user) & (rank < a.limit))
        own = RankResult(ranked=frame_of({name: v[mine] for name, v in columns.items()}))
        if i == 0:
            own.candidates, own.removed = result.candidates, result.removed
            own.seconds, own.users = result.seconds, result.users
        out.append(own)
    return out
