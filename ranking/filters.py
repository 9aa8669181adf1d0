"""Filters: each keeps some candidates and names why it removed the rest."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .catalog import lookup
from .components import Filter, RankContext


class CreditGate(Filter):
    """Circles whose min_credit_score the user's score in force does not reach. Credit is
    eligibility only: it never adds to a score. A user without a score passes open
    circles only."""

    name = "credit_gate"
    reason = "ineligible"
    surfaces = ("circle_suggestions",)

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        gate = lookup(ctx.catalog.circle_gate, candidates["item_id"])
        gate = gate.to_numpy(dtype=np.float64, na_value=np.nan)
        score = lookup(ctx.catalog.credit, candidates["user_id"])
        score = score.to_numpy(np.float64, na_value=np.nan)
        return np.isnan(gate) | (score >= gate)


class NotMember(Filter):
    """Circles the user already belongs to."""

    name = "not_member"
    reason = "already_member"
    surfaces = ("circle_suggestions",)

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        asked = pd.MultiIndex.from_frame(candidates[["user_id", "item_id"]])
        return ~asked.isin(ctx.catalog.member_pairs)


class LiveCircle(Filter):
    """Circles that do not exist yet at as_of."""

    name = "live_circle"
    reason = "unknown_circle"
    surfaces = ("circle_suggestions",)

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        return candidates["item_id"].isin(ctx.catalog.circles["circle_id"]).to_numpy()


class LivePost(Filter):
    """Posts that are deleted, stale (outside the freshness window) or the user's own."""

    name = "live_post"
    reason = "not_live"
    surfaces = ("feed",)

    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        rows = ctx.catalog.rows("feed", candidates["item_id"])
        author = ctx.catalog.post_authors[rows]
        return (rows >= 0) & (author != candidates["user_id"].to_numpy(dtype=object))


FILTERS: tuple[type[Filter], ...] = (CreditGate, NotMember, LiveCircle, LivePost)
