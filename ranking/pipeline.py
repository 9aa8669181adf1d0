"""Run a strategy for a batch of users: sources -> filters -> features -> scorer ->
re-rankers -> page. The API (one user) and offline replay (many) call the same code."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from circlerank.arrays import best_first, one_user, ranks_within, user_codes
from circlerank.frames import frame_of, repeated, values_of
from features.pit import AS_OF

from .components import (
    CandidateSource,
    Filter,
    RankContext,
    ReRanker,
    Scorer,
    Slate,
    candidate_users,
)
from .feed_index import USER
from .item_index import ROW
from .strategy import Strategy

RANKED_COLUMNS = ["user_id", "item_id", "rank", "score", "sources"]
UNKNOWN_ROW = -2  # a source that did not say: looked up (-1 is 'not a live item')
_EMPTY_PAGE = pd.DataFrame(columns=RANKED_COLUMNS)


@dataclass
class RankResult:
    """The ranked page per user plus what happened on the way (for metrics and logs)."""

    # RANKED_COLUMNS, sorted by user then rank; sources is a bit mask
    ranked: pd.DataFrame = field(default_factory=lambda: _EMPTY_PAGE.copy())
    candidates: Counter[str] = field(default_factory=Counter)  # rows per source
    removed: Counter[str] = field(default_factory=Counter)  # rows per filter reason
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage
    users: int = 0  # users the run ranked (0: a share of another request's run)


class _Clock:
    """Adds the time since the last tick to a stage of `seconds`."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self.last = time.perf_counter()

    def tick(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self.last
        self.last = now


class Pipeline:
    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy
        self.sources: list[CandidateSource] = strategy.build("sources")
        self.fallback: list[CandidateSource] = strategy.build("fallback")
        self.filters: list[Filter] = strategy.build("filters")
        self.scorer: Scorer = strategy.build("scorer")[0]
        self.rerankers: list[ReRanker] = strategy.build("rerankers")
        names = dict.fromkeys(s.name for s in [*self.sources, *self.fallback])
        self._bit = {name: 1 << i for i, name in enumerate(names)}

    def prepare(self, ctx: RankContext) -> None:
        """Make ready what its runs in `ctx` will need (see Scorer.prepare)."""
        self.scorer.prepare(ctx)

    def source_names(self, mask: int) -> list[str]:
        """The names of the sources behind a candidate's `sources` bit mask."""
        return [name for name, bit in self._bit.items() if mask & bit]

    def candidates(
        self, ctx: RankContext, users: np.ndarray, result: RankResult | None = None
    ) -> pd.DataFrame:
        """What the strategy ranks for `users`: its sources' candidates (the fallback's
        for users with none), filtered. Counts and timings go to `result`."""
        users = np.asarray(pd.unique(np.asarray(users, dtype=object)), dtype=object)
        result = result or RankResult(users=len(users))
        clock = _Clock(result.seconds)
        candidates = self._gather(ctx, users, self.sources, result, clock)
        if self.fallback:
            empty = np.setdiff1d(users, candidates["user_id"].unique())
            if len(empty):
                more = self._gather(ctx, empty, self.fallback, result, clock)
                candidates = pd.concat([candidates, more], ignore_index=True)
                candidates[USER] = user_codes(values_of(candidates, "user_id", object))
        return candidates

    def run(self, ctx: RankContext, users: np.ndarray, limit: int) -> RankResult:
        users = np.asarray(pd.unique(np.asarray(users, dtype=object)), dtype=object)
        result = RankResult(users=len(users))
        candidates = self.candidates(ctx, users, result)
        clock = _Clock(result.seconds)
        if candidates.empty:
            return result
        features = None
        if self.scorer.needs_features and ctx.features is not None and len(candidates):
            rows = frame_of(
                {
                    "user_id": values_of(candidates, "user_id"),
                    "item_id": values_of(candidates, "item_id"),
                    AS_OF: repeated(ctx.as_of, len(candidates)),
                }
            )
            features = ctx.features(rows, ctx.surface)
        clock.tick("features")
        score = self.scorer.score(ctx, candidates, features)
        clock.tick("score")
        if self.rerankers:
            slate = Slate(
                user=values_of(candidates, "user_id", object),
                item=values_of(candidates, "item_id", object),
                row=values_of(candidates, ROW, np.int64),
                score=np.asarray(score, dtype=np.float64),
                codes=values_of(candidates, USER, np.int64),
            )
            for reranker in self.rerankers:
                slate.score = reranker.rerank(ctx, slate)
            score = slate.score
        clock.tick("rerank")
        result.ranked = _top(candidates, np.asarray(score, dtype=np.float64), limit)
        clock.tick("page")
        return result

    def _gather(
        self,
        ctx: RankContext,
        users: np.ndarray,
        sources: list[CandidateSource],
        result: RankResult,
        clock: _Clock,
    ) -> pd.DataFrame:
        """Candidates of the sources, one row per (user, item) with a bit mask of the
        sources that returned it, then filtered (removals counted per reason)."""
        users_found, items_found, bits_found, rows_found = [], [], [], []
        for source in sources:
            got = source.fetch(ctx, users)
            result.candidates[source.name] += len(got)
            users_found.append(values_of(got, "user_id", object))
            items_found.append(values_of(got, "item_id", object))
            bits_found.append(np.full(len(got), self._bit[source.name], dtype=np.int64))
            known = values_of(got, ROW, np.int64) if ROW in got else None
            rows_found.append(np.full(len(got), UNKNOWN_ROW) if known is None else known)
        candidates, item_code, item_ids = _union(users_found, items_found, bits_found, rows_found)
        unknown = values_of(candidates, ROW) == UNKNOWN_ROW
        if unknown.any():
            # each distinct item looked up once (a batch of users shares most posts)
            asked, at = np.unique(item_code[unknown], return_inverse=True)
            row = candidates[ROW].to_numpy(dtype=np.int64, copy=True)
            row[unknown] = ctx.catalog.item_index.rows(ctx.surface, pd.Series(item_ids[asked]))[at]
            candidates[ROW] = row
        clock.tick("sources")
        for step in self.filters:
            keep = step.keep(ctx, candidates)
            removed = int((~keep).sum())
            result.removed[step.reason] += removed
            if removed:  # 3x faster than pandas' boolean row selection and new index
                candidates = frame_of({c: values_of(candidates, c)[keep] for c in candidates})
        clock.tick("filters")
        return candidates


def _union(
    users: list[np.ndarray], items: list[np.ndarray], bits: list[np.ndarray], rows: list[np.ndarray]
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """One row per (user, item), in first-seen order, with the user's code (USER) and
    the item's ROW as first seen (UNKNOWN_ROW where that source did not know it);
    `sources` ORs the bits of every source that found it. Also each row's item as a
    code into the distinct item ids returned."""
    if not users:
        empty = {"user_id": [], "item_id": [], "sources": [], USER: np.empty(0, np.int64)}
        frame = pd.DataFrame({**empty, ROW: np.empty(0, np.int64)})
        return frame, np.empty(0, np.intp), np.empty(0, object)
    user, item, bit = np.concatenate(users), np.concatenate(items), np.concatenate(bits)
    row = np.concatenate(rows)
    user_code = user_codes(user)
    item_code, item_ids = pd.factorize(item, use_na_sentinel=False)  # a None id is an id
    # pairs numbered in first-seen order (a hash, not a sort): a pair is seen first
    # where its number exceeds every number before it; for one user (the API's case)
    # the item codes already are
    pair = (
        item_code if one_user(user_code) else pd.factorize(user_code * len(item_ids) + item_code)[0]
    )
    at = np.flatnonzero(
        np.concatenate(([len(pair) > 0], pair[1:] > np.maximum.accumulate(pair)[:-1]))
    )
    sources = np.zeros(len(at), dtype=np.int64)
    np.bitwise_or.at(sources, pair, bit)
    frame = frame_of(
        {
            "user_id": np.asarray(user[at], dtype=object),
            "item_id": np.asarray(item[at], dtype=object),
            "sources": sources,
            USER: user_code[at],
            ROW: row[at],
        }
    )
    return frame, item_code[at], np.asarray(item_ids, dtype=object)


def _top(candidates: pd.DataFrame, score: np.ndarray, limit: int) -> pd.DataFrame:
    """The first `limit` rows of each user, best first, with their rank from 0."""
    user = values_of(candidates, "user_id", object)
    item = values_of(candidates, "item_id", object)
    codes = candidate_users(candidates)
    order = best_first(codes, item, score)
    rank = ranks_within(codes[order])
    shown = rank < limit
    rows = order[shown]
    sources = values_of(candidates, "sources")
    return frame_of(
        {
            "user_id": user[rows],
            "item_id": item[rows],
            "rank": rank[shown],
            "score": score[rows],
            "sources": sources[rows],
        }
    )
