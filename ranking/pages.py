"""Pages of one user's ranked list, pinned across a session by a signed cursor."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict, Unpack

import numpy as np
import pandas as pd

from circlerank.errors import CursorError
from circlerank.frames import frame_of, values_of

from .combine import Combiner
from .components import RankContext
from .cursor import Cursor, CursorSigner, Pins, digest
from .explore import Exploration, fill_slots
from .pipeline import Pipeline, RankResult
from .strategy import Strategies

# (surface, as_of) -> the context to rank in, with a catalog as of that instant
Contexts = Callable[[str, pd.Timestamp], RankContext]
MAX_SERVED = 1000  # items one session may page through


@dataclass
class Page:
    # RANKED_COLUMNS, propensity, reasons, explanation; rank from the session's start
    ranked: pd.DataFrame
    next_cursor: str | None  # None when the list is exhausted
    result: RankResult  # what the ranking of this page did (candidates, removals, timing)
    strategy: str  # the strategy that ranked it (the session's, or a stand-in)


class PageOptions(TypedDict, total=False):
    """The optional arguments of a page request (all None by default)."""

    # next_cursor of the previous page, or that cursor as `resume` returned it
    cursor: str | Cursor | None
    # a cursor pins the next four for its session: with one, None means the cursor's,
    # and naming another is a CursorError
    strategy: str | None  # None: the surface's default
    exploration: Exploration | None
    arm: str | None  # labels the caller logs the session's pages under
    experiment: str | None
    # ranks this page instead of the session's strategy, without its exploration (an
    # outage fallback); the next cursor still pins the session's
    stand_in: str | None
    clock: float | None  # Unix seconds for the cursor's age; None: the wall clock
    rng: np.random.Generator | None  # for exploration; None: a fresh one if needed


@dataclass(frozen=True)
class PageAsk:
    """A checked page request: the pipeline run it needs (the arguments of a
    Combiner's `run`) and what `Pager.finish` needs to turn the run into the page."""

    run: tuple[Pipeline, RankContext, str, int]  # pipeline, context, user, limit
    surface: str
    limit: int
    strategy: str  # the strategy that ranks it (the session's, or a stand-in)
    pinned: pd.Timestamp  # the instant ranked as of
    served: tuple[str, ...]  # digests of the items earlier pages of the session showed
    clock: float
    exploration: Exploration | None  # applied to this page
    rng: np.random.Generator | None  # for exploration; None: a fresh one if needed
    pins: Pins  # the session's, for the next cursor


class Pager:
    def __init__(self, contexts: Contexts, strategies: Strategies, signer: CursorSigner) -> None:
        self.contexts = contexts
        self.strategies = strategies
        self.signer = signer
        self._pipelines: dict[tuple[str, str], Pipeline] = {}
        # requests that wait while another ranks are ranked together (ranking/combine.py)
        self.combiner = Combiner()

    def pipeline(self, name: str, surface: str) -> Pipeline:
        key = (name, surface)
        if key not in self._pipelines:
            self._pipelines[key] = Pipeline(self.strategies.get(name, surface))
        return self._pipelines[key]

    def page(
        self,
        user_id: str,
        surface: str,
        limit: int,
        now: pd.Timestamp,
        **options: Unpack[PageOptions],
    ) -> Page:
        """The first page (no cursor: ranked as of `now`) or the page after `cursor`
        (ranked as of the instant the cursor pins). `clock` is Unix seconds for the
        cursor's age (default: the wall clock). With `exploration`, the page's slots are
        drawn by `rng` from the best unserved candidates and each row carries the
        probability of its draw (ranking/explore.py); without, the best-first list
        with propensity 1.

        `ask` + a run + `finish`: a caller on an event loop makes the run itself
        (LoopCombiner), the others get it from this pager's thread Combiner."""
        asked = self.ask(user_id, surface, limit, now, **options)
        return self.finish(asked, self.combiner.run(*asked.run))

    def ask(
        self,
        user_id: str,
        surface: str,
        limit: int,
        now: pd.Timestamp,
        **options: Unpack[PageOptions],
    ) -> PageAsk:
        """A page request checked (CursorError for a cursor that does not fit), with the
        pipeline run it needs; the arguments are those of `page`."""
        unknown = options.keys() - PageOptions.__optional_keys__
        if unknown:  # a typo would otherwise pass unseen at run time
            raise TypeError(f"unknown page option(s) {sorted(unknown)}")
        cursor, stand_in = options.get("cursor"), options.get("stand_in")
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        clock = options.get("clock")
        clock = time.time() if clock is None else clock
        served: tuple[str, ...]
        if cursor is None:
            pins = Pins(
                self.strategies.get(options.get("strategy"), surface).name,
                options.get("exploration"),
                options.get("arm"),
                options.get("experiment"),
            )
            pinned, served = now, ()
        else:
            if isinstance(cursor, str):
                cursor = self.resume(cursor, user_id, surface, clock)
            _check_fits(cursor, user_id, surface, options)
            pins, pinned, served = cursor.pins, cursor.pinned, cursor.served
        if len(served) >= MAX_SERVED:
            raise CursorError(f"a session pages at most {MAX_SERVED} items; start again")
        name = pins.strategy if stand_in is None else stand_in
        exploration = pins.exploration if stand_in is None else None
        pipeline = self.pipeline(name, surface)
        ctx = self.contexts(surface, pinned)
        wanted = max(limit, exploration.pool) if exploration is not None else limit
        return PageAsk(
            run=(pipeline, ctx, user_id, len(served) + wanted),
            surface=surface,
            limit=limit,
            strategy=name,
            pinned=pinned,
            served=served,
            clock=clock,
            exploration=exploration,
            rng=options.get("rng"),
            pins=pins,
        )

    def resume(self, token: str, user_id: str, surface: str, clock: float | None = None) -> Cursor:
        """The session a cursor token continues, checked: CursorError if it is
        malformed, tampered, expired or for another user or surface."""
        cursor = self.signer.decode(token, now=clock)
        _check_fits(cursor, user_id, surface, {})
        return cursor

    def finish(self, asked: PageAsk, result: RankResult) -> Page:
        """The page of a request from its run's result."""
        pipeline, ctx, user_id, _ = asked.run
        surface, limit, served = asked.surface, asked.limit, asked.served
        # numpy from here: a page is 20 rows, where each pandas step costs more than
        # the work it does
        ranked = {name: values_of(result.ranked, name) for name in result.ranked.columns}
        at = np.arange(len(ranked["item_id"]))
        if served:
            done = set(served)
            items = ranked["item_id"].tolist()
            at = np.array([i for i in at if digest(str(items[i])) not in done], dtype=np.intp)
        rng = asked.rng
        if rng is None and asked.exploration is not None:
            rng = np.random.default_rng()
        shown, propensity = fill_slots(ranked["score"][at], limit, asked.exploration, rng)
        columns = {name: values[at[shown]] for name, values in ranked.items()}
        explained = ctx.catalog.explainer.explain(surface, columns, pipeline.source_names)
        columns["rank"] = np.arange(len(served), len(served) + len(shown))
        columns["propensity"] = np.asarray(propensity, dtype=np.float64)
        columns["reasons"] = _objects([e.codes for e in explained])
        columns["explanation"] = _objects([e.text for e in explained])
        page = frame_of(columns)
        next_cursor = None
        if len(page) == limit:
            now_served = served + tuple(digest(str(i)) for i in columns["item_id"])
            next_cursor = self.signer.encode(
                Cursor(
                    user_id, surface, asked.pins, asked.pinned.isoformat(), now_served, asked.clock
                )
            )
        return Page(page, next_cursor, result, asked.strategy)


def _check_fits(cursor: Cursor, user_id: str, surface: str, options: PageOptions) -> None:
    """CursorError unless `cursor` pages this user and surface, with what `options` name
    of the strategy, exploration, arm and experiment (None names nothing)."""
    if (cursor.user_id, cursor.surface) != (user_id, surface):
        raise CursorError(
            f"this cursor pages {cursor.surface} for another user; ask the first page again"
        )
    for pin in ("strategy", "exploration", "arm", "experiment"):
        asked, pinned = options.get(pin), getattr(cursor.pins, pin)
        if asked is not None and asked != pinned:
            raise CursorError(f"this cursor pages {pin} {pinned!r}, not {asked!r}")


def _objects(values: list[object]) -> np.ndarray:
    """A 1-d object array of these values (lists stay one element each)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):  # a slice assignment would make lists a 2-d block
        out[i] = value
    return out
