"""Filters: each keeps some candidates and names why it removed the rest."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from circlerank.frames import values_of

from .catalog import lookup
from .components import Filter, RankContext, candidate_users
from .history import PerUser, contains
from .item_index import ROW


class CreditGate(Filter):
    """Circles whose min_credit_score the user's score in force does not reach. Credit is
    eligibility only: it never adds to a score. A user without a score passes open
    circles only."""

    name = "credit_gate"
    reason = "ineligible"
    surfaces = ("circle_suggestions",)

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        # by the candidates' rows in the catalog's circles (NaN where not live)
        gate = ctx.catalog.item_index.candidate_values(
            "circle_suggestions", "min_credit_score", candidates
        )
        gate = np.asarray(gate, dtype=np.float64)
        score = lookup(ctx.catalog.credit, candidates["user_id"])
        score = score.to_numpy(np.float64, na_value=np.nan)
        return np.isnan(gate) | (score >= gate)


class NotMember(Filter):
    """Circles the user already belongs to."""

    name = "not_member"
    reason = "already_member"
    surfaces = ("circle_suggestions",)

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        users = values_of(candidates, "user_id", object)
        # only the asked users' memberships: the whole table is millions of pairs
        rows = ctx.catalog.memberships.rows_of(pd.unique(users))
        member_user, member_circle = ctx.catalog.memberships.ids
        own = set(zip(member_user[rows].tolist(), member_circle[rows].tolist(), strict=True))
        pairs = zip(users.tolist(), values_of(candidates, "item_id", object).tolist(), strict=True)
        return np.fromiter((pair not in own for pair in pairs), bool, len(users))


class LiveCircle(Filter):
    """Circles that do not exist yet at as_of."""

    name = "live_circle"
    reason = "unknown_circle"
    surfaces = ("circle_suggestions",)

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        if ROW in candidates:  # a circle's row in the catalog's items: -1 if not live
            return values_of(candidates, ROW, np.int64) >= 0
        live = ctx.catalog.live_circle_set
        ids = values_of(candidates, "item_id", object).tolist()
        return np.fromiter((i in live for i in ids), bool, len(ids))


class LivePost(Filter):
    """Posts that are deleted, stale (outside the freshness window) or the user's own."""

    name = "live_post"
    reason = "not_live"
    surfaces = ("feed",)

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        author = ctx.catalog.item_index.candidate_values("feed", "author_id", candidates)
        live = author != None  # noqa: E711 - elementwise over an object array
        return live & (author != values_of(candidates, "user_id", object))


class Window(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    days: float = Field(default=3.0, gt=0)


class AlreadySeen(Filter[Window]):
    """Posts the user was shown within the last `days`."""

    name = "already_seen"
    reason = "seen"
    surfaces = ("feed",)
    Params: ClassVar[type[BaseModel]] = Window

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        seen = ctx.catalog.history.items("feed", ("impression",), self.params.days)
        return ~_listed(seen, candidates, values_of(candidates, "item_id", object))


class HiddenByUser(Filter):
    """Posts the user hid or reported, ever."""

    name = "hidden"
    reason = "hidden_or_reported"
    surfaces = ("feed",)

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        hidden = ctx.catalog.history.items("feed", ("hide", "report"))
        return ~_listed(hidden, candidates, values_of(candidates, "item_id", object))


class HiddenAuthorParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    min_hides: int = Field(default=2, ge=1)


class HiddenAuthor(Filter[HiddenAuthorParams]):
    """Posts by authors the user hid or reported `min_hides` times or more."""

    name = "hidden_author"
    reason = "author_hidden"
    surfaces = ("feed",)
    Params: ClassVar[type[BaseModel]] = HiddenAuthorParams

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        hidden = ctx.catalog.history.hidden_authors(self.params.min_hides)
        author = ctx.catalog.item_index.candidate_values("feed", "author_id", candidates)
        return ~_listed(hidden, candidates, author)


class DeletedPost(Filter):
    """Posts deleted before the request."""

    name = "deleted_post"
    reason = "deleted"
    surfaces = ("feed",)

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        deleted = ctx.catalog.feed.deleted_posts
        if ROW not in candidates:
            return _not_in(deleted, values_of(candidates, "item_id", object))
        # a live item's answer is read by its row; only ids that are not live are asked
        row = values_of(candidates, ROW, np.int64)
        keep = ~ctx.catalog.feed.deleted_by_row()[row]
        unknown = np.flatnonzero(row < 0)
        if len(unknown):
            ids = values_of(candidates, "item_id", object)[unknown]
            keep[unknown] = _not_in(deleted, ids)
        return keep


class LeftCircle(Filter):
    """Posts of circles the user left (and did not join again)."""

    name = "left_circle"
    reason = "left_circle"
    surfaces = ("feed",)

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        circle = ctx.catalog.item_index.candidate_values("feed", "circle_id", candidates)
        return ~_listed(ctx.catalog.history.left_circles(), candidates, circle)


class DismissedParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    days: float = Field(default=30.0, gt=0)


class DismissedCircle(Filter[DismissedParams]):
    """Circles the user dismissed within the last `days`."""

    name = "dismissed_circle"
    reason = "dismissed"
    surfaces = ("circle_suggestions",)
    Params: ClassVar[type[BaseModel]] = DismissedParams

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        history = ctx.catalog.history
        dismissed = history.items("circle_suggestions", ("dismiss",), self.params.days)
        return ~_listed(dismissed, candidates, values_of(candidates, "item_id", object))


def _not_in(ids: frozenset[str], values: np.ndarray) -> np.ndarray:
    return np.fromiter((v not in ids for v in values.tolist()), bool, len(values))


def _listed(per_user: PerUser, candidates: pd.DataFrame, ids: Iterable[Any]) -> np.ndarray:
    """Whether each candidate row's id (`ids`, one per row) is in its user's set."""
    users = values_of(candidates, "user_id", object)
    return contains(per_user, users, ids, candidate_users(candidates))


FILTERS: tuple[type[Filter], ...] = (
    CreditGate,
    NotMember,
    LiveCircle,
    LivePost,
    AlreadySeen,
    HiddenByUser,
    HiddenAuthor,
    DeletedPost,
    LeftCircle,
    DismissedCircle,
)
