"""Combiner and LoopCombiner: requests that wait while a run is busy are ranked together,
and each still gets exactly the page a run for its user alone gives."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from circlerank.frames import frame_of
from ranking.combine import Combiner, LoopCombiner
from ranking.pipeline import RankResult


class Lists:
    """A pipeline with a known answer: user u's list is items u-0, u-1, ... with falling
    scores, as many as the digits of u say. The first run can be held at a gate, so that
    other requests queue up behind it."""

    def __init__(self) -> None:
        self.runs: list[list[str]] = []
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.fail_for: str | None = None

    def run(self, ctx: object, users: np.ndarray, limit: int) -> RankResult:
        self.runs.append(list(users))
        if len(self.runs) == 1:
            self.entered.set()
            assert self.gate.wait(10)
        if self.fail_for in users:
            raise RuntimeError(f"no list for {self.fail_for}")
        rows = []
        for user in sorted(set(users)):
            n = min(limit, 3 + int(user[1:]) % 5)
            rows += [(user, f"{user}-{r}", r, 1.0 - r / 10, 1) for r in range(n)]
        ranked = frame_of(
            {
                "user_id": np.array([r[0] for r in rows], dtype=object),
                "item_id": np.array([r[1] for r in rows], dtype=object),
                "rank": np.array([r[2] for r in rows], dtype=np.int64),
                "score": np.array([r[3] for r in rows]),
                "sources": np.array([r[4] for r in rows], dtype=np.int64),
            }
        )
        return RankResult(ranked, Counter(src=len(rows)), Counter(seen=len(users)), {"x": 1.0})


CTX = SimpleNamespace(surface="feed", as_of=pd.Timestamp("2026-01-01", tz="UTC"))


def _alone(user: str, limit: int) -> pd.DataFrame:
    lists = Lists()
    lists.gate.set()
    return lists.run(CTX, np.array([user], dtype=object), limit).ranked


def test_an_idle_combiner_runs_each_request_alone_at_once() -> None:
    lists, combiner = Lists(), Combiner()
    lists.gate.set()
    for user, limit in [("u1", 2), ("u7", 10), ("u1", 10)]:
        got = combiner.run(lists, CTX, user, limit)  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(got.ranked, _alone(user, limit))
        assert got.candidates == Counter(src=len(got.ranked))
    assert lists.runs == [["u1"], ["u7"], ["u1"]]


def test_requests_queued_behind_a_busy_run_share_the_next_one() -> None:
    lists, combiner = Lists(), Combiner()
    asks = [("u1", 2), ("u2", 4), ("u3", 1), ("u4", 9), ("u2", 3)]
    got: dict[int, RankResult] = {}

    def ask(i: int) -> None:
        user, limit = asks[i]
        got[i] = combiner.run(lists, CTX, user, limit)  # type: ignore[arg-type]

    first = threading.Thread(target=ask, args=(0,))
    first.start()
    assert lists.entered.wait(10)  # the first run is busy ...
    rest = [threading.Thread(target=ask, args=(i,)) for i in range(1, len(asks))]
    for t in rest:
        t.start()
    deadline = time.monotonic() + 10
    while len(combiner._queue) < len(rest) and time.monotonic() < deadline:
        time.sleep(0.01)
    lists.gate.set()  # ... while the others queue behind it
    for t in [first, *rest]:
        t.join(10)

    assert lists.runs[0] == ["u1"] and len(lists.runs) == 2
    assert sorted(lists.runs[1]) == ["u2", "u2", "u3", "u4"]  # in the order they queued
    for i, (user, limit) in enumerate(asks):
        pd.testing.assert_frame_equal(got[i].ranked, _alone(user, limit))
    # the combined run's counts are reported once, with its first request
    counted = sum((got[i].candidates for i in range(1, len(asks))), Counter())
    assert counted == Counter(src=sum(min(9, 3 + u % 5) for u in (2, 3, 4)))
    assert combiner.stats.requests == 5 and combiner.stats.runs == 2
    assert combiner.stats.sizes == Counter({1: 1, 4: 1})


def test_every_request_of_a_failed_run_gets_its_error_and_the_combiner_goes_on() -> None:
    lists, combiner = Lists(), Combiner()
    lists.gate.set()
    lists.fail_for = "u3"
    with pytest.raises(RuntimeError, match="no list for u3"):
        combiner.run(lists, CTX, "u3", 5)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(
        combiner.run(lists, CTX, "u4", 5).ranked,  # type: ignore[arg-type]
        _alone("u4", 5),
    )


def test_runs_never_exceed_max_users_and_the_leader_is_always_in_its_run() -> None:
    lists, combiner = Lists(), Combiner(max_users=2)
    users = [f"u{i}" for i in range(7)]
    got: dict[str, RankResult] = {}

    def ask(user: str) -> None:
        got[user] = combiner.run(lists, CTX, user, 3)  # type: ignore[arg-type]

    threads = [threading.Thread(target=ask, args=(u,)) for u in users]
    threads[0].start()
    assert lists.entered.wait(10)
    for t in threads[1:]:
        t.start()
    deadline = time.monotonic() + 10
    while len(combiner._queue) < len(users) - 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    lists.gate.set()
    for t in threads:
        t.join(10)
    assert all(len(run) <= 2 for run in lists.runs)
    assert sorted(u for run in lists.runs for u in run) == sorted(users)
    for user in users:
        pd.testing.assert_frame_equal(got[user].ranked, _alone(user, 3))
    with pytest.raises(ValueError, match="positive"):
        Combiner(max_users=0)


def _on_a_loop(combiner: LoopCombiner, asks: list[tuple[object, str, int]]) -> list[object]:
    """The answers (results, or errors) of requests that all arrive at once on a loop."""

    async def main() -> list[object]:
        runs = [combiner.run(p, CTX, u, k) for p, u, k in asks]  # type: ignore[arg-type]
        return await asyncio.gather(*runs, return_exceptions=True)

    return asyncio.run(main())


def test_requests_arriving_together_on_a_loop_share_one_run_and_get_their_own_pages() -> None:
    lists, combiner = Lists(), LoopCombiner()
    lists.gate.set()
    asks = [("u1", 2), ("u2", 4), ("u3", 1), ("u4", 9), ("u2", 3)]
    got = _on_a_loop(combiner, [(lists, u, k) for u, k in asks])
    assert len(lists.runs) == 1 and sorted(lists.runs[0]) == ["u1", "u2", "u2", "u3", "u4"]
    for result, (user, limit) in zip(got, asks, strict=True):
        assert isinstance(result, RankResult)
        pd.testing.assert_frame_equal(result.ranked, _alone(user, limit))
    counted = sum((r.candidates for r in got if isinstance(r, RankResult)), Counter())
    assert counted == Counter(src=sum(min(9, 3 + u % 5) for u in (1, 2, 3, 4)))
    assert combiner.stats.sizes == Counter({5: 1})


def test_a_loop_runs_each_pipeline_apart_and_at_most_max_users_at_once() -> None:
    one, other, combiner = Lists(), Lists(), LoopCombiner(max_users=2)
    one.gate.set()
    other.gate.set()
    asks = [(one if i % 3 else other, f"u{i}", 3) for i in range(7)]
    got = _on_a_loop(combiner, asks)
    assert all(len(run) <= 2 for run in one.runs + other.runs)
    assert sorted(u for run in one.runs for u in run) == [f"u{i}" for i in (1, 2, 4, 5)]
    assert sorted(u for run in other.runs for u in run) == ["u0", "u3", "u6"]
    for result, (_, user, limit) in zip(got, asks, strict=True):
        assert isinstance(result, RankResult)
        pd.testing.assert_frame_equal(result.ranked, _alone(user, limit))
    # idle again: the next request runs alone
    assert isinstance(_on_a_loop(combiner, [(one, "u9", 3)])[0], RankResult)
    assert one.runs[-1] == ["u9"]


def test_every_request_of_a_failed_run_on_a_loop_gets_its_error_and_the_next_runs() -> None:
    lists, combiner = Lists(), LoopCombiner()
    lists.gate.set()
    lists.fail_for = "u3"
    got = _on_a_loop(combiner, [(lists, "u3", 5), (lists, "u4", 5)])
    assert all(isinstance(e, RuntimeError) and "no list for u3" in str(e) for e in got)
    (after,) = _on_a_loop(combiner, [(lists, "u4", 5)])
    assert isinstance(after, RankResult)
    pd.testing.assert_frame_equal(after.ranked, _alone("u4", 5))


def test_a_cancelled_request_leaves_the_rest_of_its_run_served() -> None:
    lists, combiner = Lists(), LoopCombiner()
    lists.gate.set()

    async def main() -> tuple[list[object], RankResult]:
        gone = asyncio.ensure_future(combiner.run(lists, CTX, "u1", 3))  # type: ignore[arg-type]
        kept = asyncio.ensure_future(combiner.run(lists, CTX, "u2", 3))  # type: ignore[arg-type]
        await asyncio.sleep(0)  # both have asked; their run is due
        gone.cancel()
        return await asyncio.gather(gone, return_exceptions=True), await kept

    (outcome,), kept = asyncio.run(main())
    assert isinstance(outcome, asyncio.CancelledError)
    assert sorted(lists.runs[0]) == ["u1", "u2"]
    pd.testing.assert_frame_equal(kept.ranked, _alone("u2", 3))
