"""Re-rankers: ecosystem policy on top of the scorer's order.

Each multiplies scores by a factor (above 1 a boost, below 1 a discount). Scores may be
negative (log-odds, values with negative weights), so a factor scales a score's
distance from zero in the direction that helps or hurts it: a discount never lifts a
negative score. Every parameter is a strategy parameter (ranking/strategies.toml).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from circlerank.arrays import ranks_within, rows_by

from .components import RankContext, ReRanker, Slate


def scaled(score: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """`score` moved by `factor`: multiplied where it is positive, divided where not."""
    return np.where(score >= 0, score * factor, score / factor)


def _facts(ctx: RankContext, slate: Slate, column: str) -> np.ndarray:
    """A column of the slate's items (missing for items that are not live)."""
    return ctx.catalog.item_index.by_row(ctx.surface, column)[slate.row]


def occurrence(user: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """For each row, how many earlier rows (in the given order) have the same user and
    key; users and keys are integer codes (any value, -1 included, is a key of its
    own)."""
    key = np.asarray(keys, dtype=np.int64)
    pair = user * (int(key.max(initial=0)) + 2) + (key + 1)
    order = np.argsort(pair, kind="stable")
    count = np.empty(len(pair), dtype=np.int64)
    count[order] = ranks_within(pair[order])
    return count


class DiversityParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    decay: float = Field(default=0.5, gt=0, le=1)
    floor: float = Field(default=0.25, ge=0, le=1)


class _Diversity(ReRanker[DiversityParams]):
    """The n-th item (from 0) of the same key in a user's list keeps
    (1 - floor) * decay^n + floor of its score (the-algorithm's author diversity)."""

    Params: ClassVar[type[BaseModel]] = DiversityParams
    column: ClassVar[str]

    def rerank(self, ctx: RankContext, slate: Slate) -> np.ndarray:
        order = slate.order()
        keys = ctx.catalog.item_index.codes(ctx.surface, self.column)[slate.row[order]]
        seen = np.empty(len(order), dtype=np.float64)
        seen[order] = occurrence(slate.user_codes[order], keys)
        p = self.params
        return scaled(slate.score, (1 - p.floor) * p.decay**seen + p.floor)


class AuthorDiversity(_Diversity):
    """Discounts each further post of an author already higher in the user's list."""

    name = "author_diversity"
    surfaces = ("feed",)
    column = "author_id"


class CircleDiversity(_Diversity):
    """Discounts each further post of a circle already higher in the user's list."""

    name = "circle_diversity"
    surfaces = ("feed",)
    column = "circle_id"


class Boost(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    boost: float = Field(default=1.2, gt=0)


def _member_made(official: np.ndarray) -> np.ndarray:
    """True where `is_official` is False (None, an unknown or missing flag, is not)."""
    return np.asarray(official == False, dtype=bool)  # noqa: E712 - elementwise


class MemberMadeBoost(ReRanker[Boost]):
    """Boosts posts written by members rather than by the platform (`is_official`)."""

    name = "member_made_boost"
    surfaces = ("feed",)
    Params: ClassVar[type[BaseModel]] = Boost

    def rerank(self, ctx: RankContext, slate: Slate) -> np.ndarray:
        member_made = _member_made(_facts(ctx, slate, "is_official"))
        return scaled(slate.score, np.where(member_made, self.params.boost, 1.0))


class NewCreatorBoostParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    boost: float = Field(default=1.3, gt=0)
    days: float = Field(default=14.0, gt=0)


class NewCreatorBoost(ReRanker[NewCreatorBoostParams]):
    """Boosts posts by authors whose first post is at most `days` old."""

    name = "new_creator_boost"
    surfaces = ("feed",)
    Params: ClassVar[type[BaseModel]] = NewCreatorBoostParams

    def rerank(self, ctx: RankContext, slate: Slate) -> np.ndarray:
        is_new = ctx.catalog.feed.by_new_creator(self.params.days)[slate.row]
        return scaled(slate.score, np.where(is_new, self.params.boost, 1.0))


class QuietAuthorParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    boost: float = Field(default=1.3, gt=0)
    min_response: float = Field(default=1.0, ge=0)


class QuietAuthorBoost(ReRanker[QuietAuthorParams]):
    """Boosts member posts of authors whose fresh posts have drawn fewer than
    `min_response` positive actions each so far: members who post less when their
    posts go unanswered. The boost ends once their posts are answered, so it spreads
    responses instead of adding exposure to anyone for good."""

    name = "quiet_author_boost"
    surfaces = ("feed",)
    Params: ClassVar[type[BaseModel]] = QuietAuthorParams

    def rerank(self, ctx: RankContext, slate: Slate) -> np.ndarray:
        quiet = ctx.catalog.feed.by_quiet_author(self.params.min_response)[slate.row]
        return scaled(slate.score, np.where(quiet, self.params.boost, 1.0))


class SmallCircleParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    boost: float = Field(default=1.3, gt=0)
    max_members: int = Field(default=30, ge=1)


class SmallCircleBoost(ReRanker[SmallCircleParams]):
    """Boosts suggested circles with fewer than `max_members` members (new circles with
    none included), so small communities get the exposure that grows them."""

    name = "small_circle_boost"
    surfaces = ("circle_suggestions",)
    Params: ClassVar[type[BaseModel]] = SmallCircleParams

    def rerank(self, ctx: RankContext, slate: Slate) -> np.ndarray:
        members = _facts(ctx, slate, "members")
        small = np.nan_to_num(members, nan=np.inf) < self.params.max_members
        return scaled(slate.score, np.where(small, self.params.boost, 1.0))


class FatigueParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    days: float = Field(default=7.0, gt=0)
    free_skips: int = Field(default=2, ge=0)
    rate: float = Field(default=0.15, ge=0)
    floor: float = Field(default=0.3, gt=0, le=1)


class FeedbackFatigue(ReRanker[FatigueParams]):
    """Down-weights what the user keeps skipping: authors (feed) or circles
    (suggestions) whose items the user was shown in the last `days` without acting on.
    Beyond `free_skips`, each skip divides by 1 + rate, down to `floor`."""

    name = "feedback_fatigue"
    Params: ClassVar[type[BaseModel]] = FatigueParams

    def rerank(self, ctx: RankContext, slate: Slate) -> np.ndarray:
        p = self.params
        skips = ctx.catalog.history.skip_counts(ctx.surface, p.days)
        # skipped authors (feed) or circles (suggestions) as integer codes: a user's few
        # skip counts go into a small table read by every entry
        if ctx.surface == "feed":
            key = ctx.catalog.item_index.codes("feed", "author_id")[slate.row]
            code_of = ctx.catalog.item_index.code_by_value("feed", "author_id")
        else:
            key, code_of = slate.row, ctx.catalog.item_index.row_by_id(ctx.surface)
        count = np.zeros(len(key))
        for rows in rows_by(slate.user_codes):
            mine = skips.get(slate.user[rows[0]])
            if not mine:
                continue
            table = np.zeros(len(code_of) + 1)  # the last slot (-1): items not live
            for skipped, n in mine.items():
                if skipped in code_of:
                    table[code_of[skipped]] = n
            count[rows] = table[key[rows]]
        factor = np.maximum(p.floor, 1.0 / (1.0 + p.rate * np.maximum(count - p.free_skips, 0)))
        return scaled(slate.score, factor)


class ExploreParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    every: int = Field(default=10, ge=2)
    max_age_hours: float = Field(default=12.0, gt=0)
    max_impressions: int = Field(default=20, ge=0)
    members_only: bool = True  # explore member-made posts only, not the platform's


class ExploreNewPosts(ReRanker[ExploreParams]):
    """Exploration for new posts (at most `max_age_hours` old, shown fewer than
    `max_impressions` times so far, member-made unless `members_only` is off), which
    have no engagement yet for the model to judge. In each user's list, slots
    `every` - 1, 2 * `every` - 1, ... go to the best new post not already above: at
    most one slot in `every` is exploration, and new posts the model ranks high anyway
    keep their place. The list's scores are kept, given out in the new order."""

    name = "explore_new_posts"
    surfaces = ("feed",)
    Params: ClassVar[type[BaseModel]] = ExploreParams

    def rerank(self, ctx: RankContext, slate: Slate) -> np.ndarray:
        p = self.params
        age_h = (ctx.as_of.timestamp() - _facts(ctx, slate, "created_at")) / 3600.0
        shown = _facts(ctx, slate, "impressions")
        new = (age_h <= p.max_age_hours) & (shown < p.max_impressions)
        if p.members_only:
            new &= _member_made(_facts(ctx, slate, "is_official"))
        if not new.any():
            return slate.score
        order = slate.order()
        user = slate.user_codes[order]
        position = ranks_within(user)
        explored = np.empty(len(order), dtype=np.int64)
        explored[explored_slots(user, position, new[order], p.every)] = order
        # each user's scores, highest first, given out in the new order, a hair apart so
        # that ties cannot undo it
        descending = slate.score[order]
        score = np.empty(len(order))
        score[explored] = descending - 1e-9 * np.maximum(1.0, np.abs(descending)) * position
        # lists without a new post keep their scores exactly, as when ranked alone
        codes = slate.user_codes
        untouched = np.bincount(codes[new], minlength=codes.max() + 1)[codes] == 0
        score[untouched] = slate.score[untouched]
        return score


def explored_slots(
    user: np.ndarray, position: np.ndarray, new: np.ndarray, every: int
) -> np.ndarray:
    """Where each entry of lists sorted by user, best first, goes when the next new
    entry is pulled forward into every reserved slot (`every` - 1, 2 * `every` - 1, ...
    of a user's list) it would not reach on its own; the others keep their order in
    the slots left. `position` is each entry's place in its user's list.

    The j-th new entry of a list, at position q_j, lands in the first slot after the
    previous one's that is reserved or not before q_j: min(q_j, reserved slot c_{j-1})
    where c_j, the first reserved slot (by number) after the j-th's landing, follows
    c_j = min(c_{j-1} + 1, M_j) from c_{-1} = 0, with M_j the first reserved slot after
    q_j. So c_j = j + min(1, min over i <= j of (M_i - i)): a running minimum per list,
    for all lists at once."""
    n = len(user)
    start = np.arange(n) - position  # each entry's list, as its first index
    fresh = np.flatnonzero(new)
    if len(fresh) == 0:
        return np.arange(n)
    q = position[fresh].astype(np.int64)
    j = ranks_within(user[fresh])
    after = -(-(q + 2) // every) - 1  # M_j
    # the running minimum restarts at each list: lists further on are shifted far down
    shift = np.cumsum(j == 0) * (4 * n + 8)
    c = j + np.minimum(1, np.minimum.accumulate(after - j - shift) + shift)
    previous = np.where(j == 0, 0, np.concatenate(([0], c[:-1])))
    slot = np.minimum(q, (previous + 1) * every - 1)
    taken = np.zeros(n, dtype=bool)
    taken[start[fresh] + slot] = True
    out = np.empty(n, dtype=np.int64)
    out[fresh] = start[fresh] + slot
    out[~new] = np.flatnonzero(~taken)  # the rest, in order, in the slots left
    return out


RERANKERS: tuple[type[ReRanker], ...] = (
    AuthorDiversity,
    CircleDiversity,
    MemberMadeBoost,
    NewCreatorBoost,
    QuietAuthorBoost,
    SmallCircleBoost,
    FeedbackFatigue,
    ExploreNewPosts,
)
