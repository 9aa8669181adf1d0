"""The event log while it is being built: integer-coded columns, appended per batch."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from .population import make_ids

FEED, SUGGESTIONS = 0, 1
SURFACE_NAMES: tuple[str, ...] = ("feed", "circle_suggestions")
ACTION_NAMES: tuple[str, ...] = (
    "impression",
    "click",
    "like",
    "comment",
    "share",
    "hide",
    "report",
    "join",
    "dismiss",
)
IMPRESSION, CLICK, LIKE, COMMENT, SHARE, HIDE, REPORT, JOIN, DISMISS = range(9)


@dataclass
class EventColumns:
    """One row per event; `item` indexes posts (feed) or circles (suggestions).
    `p_examine` and `p_true` record the latent truth behind each impression (NaN on
    engagements), `examined` whether the user looked at it."""

    ts_us: np.ndarray
    user: np.ndarray
    surface: np.ndarray
    item: np.ndarray
    action: np.ndarray
    request: np.ndarray
    position: np.ndarray
    propensity: np.ndarray
    p_examine: np.ndarray
    p_true: np.ndarray
    examined: np.ndarray

    def __len__(self) -> int:
        return len(self.ts_us)


@dataclass
class EventLog:
    """Accumulates batches; `finish` sorts them in time order."""

    batches: list[EventColumns] = field(default_factory=list)

    def add(
        self,
        ts_us: np.ndarray,
        user: np.ndarray,
        surface: int,
        item: np.ndarray,
        action: int,
        request: np.ndarray,
        position: np.ndarray,
        propensity: np.ndarray,
        p_examine: np.ndarray | None = None,
        p_true: np.ndarray | None = None,
        examined: np.ndarray | None = None,
    ) -> None:
        n = len(ts_us)
        nan = np.full(n, np.nan)
        self.batches.append(
            EventColumns(
                ts_us=ts_us.astype(np.int64),
                user=user.astype(np.int64),
                surface=np.full(n, surface, dtype=np.int8),
                item=item.astype(np.int64),
                action=np.full(n, action, dtype=np.int8),
                request=request.astype(np.int64),
                position=position.astype(np.int64),
                propensity=propensity.astype(np.float64),
                p_examine=nan if p_examine is None else p_examine,
                p_true=nan if p_true is None else p_true,
                examined=np.zeros(n, bool) if examined is None else examined,
            )
        )

    def finish(self) -> EventColumns:
        """All events ordered by (ts, request, position, action); requests renumbered in
        order of first appearance so ids read chronologically."""
        names = [f.name for f in fields(EventColumns)]
        if not self.batches:
            return EventColumns(*(np.zeros(0) for _ in names))
        cols = {n: np.concatenate([getattr(b, n) for b in self.batches]) for n in names}
        order = np.lexsort((cols["action"], cols["position"], cols["request"], cols["ts_us"]))
        cols = {n: v[order] for n, v in cols.items()}
        _, first = np.unique(cols["request"], return_index=True)
        uniq = cols["request"][np.sort(first)]
        renumber = np.empty(int(cols["request"].max()) + 1, dtype=np.int64)
        renumber[uniq] = np.arange(len(uniq))
        cols["request"] = renumber[cols["request"]]
        return EventColumns(**cols)


def event_ids(n: int) -> np.ndarray:
    """Event ids in log order."""
    return make_ids("e", n, min_width=8)
