"""Pages of one user's ranked list, pinned across a session by a signed cursor."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from circlerank.errors import CursorError
from circlerank.frames import frame_of

from .combine import Combiner
from .components import RankContext
from .cursor import Cursor, CursorSigner, digest
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
    strategy: str  # the strategy that ranked it (a cursor's pins it for the session)


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
        cursor: str | None = None,
        strategy: str | None = None,
        clock: float | None = None,
        exploration: Exploration | None = None,
        rng: np.random.Generator | None = None,
    ) -> Page:
        """The first page (no cursor: ranked as of `now`) or the page after `cursor`
        (ranked as of the instant the cursor pins). `clock` is Unix seconds for the
        cursor's age (default: the wall clock). With `exploration`, the page's slots are
        drawn by `rng` from the best unserved candidates and each row carries the
        probability of its draw (ranking/explore.py); without, the best-first list
        with propensity 1."""
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        clock = time.time() if clock is None else clock
        served: tuple[str, ...]
        if cursor is None:
            name = self.strategies.get(strategy, surface).name
            pinned, served = now, ()
        else:
            c = self.signer.decode(cursor, now=clock)
            if (c.user_id, c.surface) != (user_id, surface):
                raise CursorError(
                    f"this cursor pages {c.surface} for another user; ask the first page again"
                )
            if strategy is not None and strategy != c.strategy:
                raise CursorError(f"this cursor pages strategy {c.strategy!r}, not {strategy!r}")
            name, pinned, served = c.strategy, c.pinned, c.served
        if len(served) >= MAX_SERVED:
            raise CursorError(f"a session pages at most {MAX_SERVED} items; start again")
        pipeline = self.pipeline(name, surface)
        ctx = self.contexts(surface, pinned)
        wanted = max(limit, exploration.pool) if exploration is not None else limit
        result = self.combiner.run(pipeline, ctx, user_id, limit=len(served) + wanted)
        ranked = result.ranked
        done: set[str] = set(served)
        items = ranked["item_id"].tolist()
        unserved = np.array(
            [i for i, item in enumerate(items) if not done or digest(str(item)) not in done],
            dtype=np.intp,
        )
        rng = rng if rng is not None else np.random.default_rng()
        score = ranked["score"].to_numpy()[unserved]
        shown, propensity = fill_slots(score, limit, exploration, rng)
        page = ranked.take(unserved[shown]).reset_index(drop=True)
        explained = ctx.catalog.explainer.explain(surface, page, pipeline.source_names)
        columns = {name: page[name] for name in page.columns}
        columns["rank"] = np.arange(len(served), len(served) + len(page))
        columns["propensity"] = np.asarray(propensity, dtype=np.float64)
        columns["reasons"] = _objects([e.codes for e in explained])
        columns["explanation"] = _objects([e.text for e in explained])
        page = frame_of(columns)  # one frame, not one per added column
        next_cursor = None
        if len(page) == limit:
            now_served = served + tuple(digest(str(i)) for i in page["item_id"])
            next_cursor = self.signer.encode(
                Cursor(user_id, surface, name, pinned.isoformat(), now_served, clock)
            )
        return Page(page, next_cursor, result, name)


def _objects(values: list[object]) -> np.ndarray:
    """A 1-d object array of these values (lists stay one element each)."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):  # a slice assignment would make lists a 2-d block
        out[i] = value
    return out
