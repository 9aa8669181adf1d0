"""Candidate sources: where the items a pipeline ranks come from."""

from __future__ import annotations

import logging
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from circlerank.arrays import best_first, by_user_then, ranks_within
from circlerank.frames import frame_of, values_of

from .components import CandidateSource, RankContext
from .feed_index import USER
from .item_index import ROW

log = logging.getLogger(__name__)

PAIR = ["user_id", "item_id"]
PAIR_ROW = [*PAIR, ROW]  # feed posts: their rows come with them
# all_circles offers every circle of a catalog of at most this many. Each of its
# candidates costs a request filters, features and the scorer's trees: on Last.fm (17,632
# circles, the default strategy, one user per request, in process on 2 busy cores) about
# 5 us per candidate (p50 +5 to +11 ms for 1,000 of its circles, +13 ms for 2,000, +20 ms
# for 4,000, +140 ms for all 17,632) beside ~400 from the other sources. 1,000 keeps
# all_circles under a fifth of the 30 ms a request may take; the model, friends',
# popular, city and interest sources supply the candidates of a larger catalog.
ELIGIBLE_UP_TO = 1000
_told_capped = False  # the cap is logged once per process, not per request


class TopK(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    k: int = Field(default=100, gt=0)


def _for_every_user(
    users: np.ndarray, items: np.ndarray, rows: np.ndarray | None = None
) -> pd.DataFrame:
    """The same items (with their catalog `rows`, if given) as candidates of every user."""
    columns = {
        "user_id": np.repeat(np.asarray(users, dtype=object), len(items)),
        "item_id": np.tile(np.asarray(items, dtype=object), len(users)),
    }
    if rows is not None:
        columns[ROW] = np.tile(rows, len(users))
    return frame_of(columns)


def _top_per_user(frame: pd.DataFrame, by: str, k: int) -> pd.DataFrame:
    ordered = frame.sort_values(["user_id", by, "item_id"], ascending=[True, False, True])
    return ordered.groupby("user_id", sort=False).head(k)[PAIR]


def _pairs_at(pairs: pd.DataFrame, at: np.ndarray | None = None) -> pd.DataFrame:
    """The user, item and ROW columns of in-network `pairs`, at rows `at` (a mask or
    positions; None: all), as a new frame: selecting columns and rows of a frame costs
    more than the few hundred rows a request selects."""
    return frame_of(
        {c: values_of(pairs, c) if at is None else values_of(pairs, c)[at] for c in PAIR_ROW}
    )


def _first_per_user(pairs: pd.DataFrame, order: np.ndarray, k: int) -> pd.DataFrame:
    """The first `k` rows of each user in `order` (row indices sorted by user code):
    what `_top_per_user` gives, from an order already known."""
    return _pairs_at(pairs, order[ranks_within(values_of(pairs, USER)[order]) < k])


def _top_feed_posts(ctx: RankContext, users: np.ndarray, by: str, k: int) -> pd.DataFrame:
    """Each user's `k` in-network posts with the highest `by` (then lowest id): the
    posts' order is computed once per catalog, so a request only sorts its users."""
    pairs = ctx.catalog.feed.in_network(users)
    rank = ctx.catalog.feed.post_rank(by)[values_of(pairs, ROW)]
    return _first_per_user(pairs, by_user_then(values_of(pairs, USER), rank), k)


class CirclePosts(CandidateSource):
    """Every fresh post in the circles the user belongs to: the in-network feed."""

    name = "circle_posts"
    surfaces = ("feed",)

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        return _pairs_at(ctx.catalog.feed.in_network(users))


class TrendingPosts(CandidateSource[TopK]):
    """Fresh posts in the user's circles with the most time-decayed engagement."""

    name = "trending_posts"
    surfaces = ("feed",)
    Params: ClassVar[type[BaseModel]] = TopK

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        return _top_feed_posts(ctx, users, "engagement", self.params.k)


class FreshPosts(CandidateSource[TopK]):
    """The newest posts in the user's circles."""

    name = "fresh_posts"
    surfaces = ("feed",)
    Params: ClassVar[type[BaseModel]] = TopK

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        return _top_feed_posts(ctx, users, "created_at", self.params.k)


class NewCreatorParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    days: int = Field(default=14, gt=0)


class NewCreatorPosts(CandidateSource[NewCreatorParams]):
    """Posts in the user's circles whose author first posted within `days`."""

    name = "new_creator_posts"
    surfaces = ("feed",)
    Params: ClassVar[type[BaseModel]] = NewCreatorParams

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        pairs = ctx.catalog.feed.in_network(users)
        new = ctx.catalog.feed.by_new_creator(self.params.days)[values_of(pairs, ROW)]
        return _pairs_at(pairs, new)


class SocialPosts(CandidateSource):
    """Posts in the user's circles by friends, followed users and transfer partners."""

    name = "social_posts"
    surfaces = ("feed",)

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        pairs = ctx.catalog.feed.in_network(users)
        tie_user, tie_other = ctx.catalog.social.pairs_of(users)
        # (user, author) pairs as integer keys over the ids of both sides
        n = len(pairs)
        user = pd.factorize(np.concatenate([values_of(pairs, "user_id"), tie_user]))[0]
        author = pd.factorize(np.concatenate([values_of(pairs, "author_id"), tie_other]))[0]
        key = user.astype(np.int64) * (int(author.max(initial=0)) + 1) + author
        return _pairs_at(pairs, np.isin(key[:n], key[n:]))


class PopularPosts(CandidateSource[TopK]):
    """The most engaged fresh posts of open circles, for users with nothing else."""

    name = "popular_posts"
    surfaces = ("feed",)
    Params: ClassVar[type[BaseModel]] = TopK

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        k = self.params.k
        catalog = ctx.catalog
        return _for_every_user(
            users, catalog.feed.popular_open_posts[:k], catalog.feed.popular_open_rows[:k]
        )


class ALSPosts(CandidateSource[TopK]):
    """The user's fresh in-network posts with the highest ALS dot product.

    Each user's own few hundred posts are scored exactly: a faiss search filtered to
    the posts of a whole batch of users would give a user fewer of its own posts the
    larger the batch, so offline replay would differ from the API's one-user requests."""

    name = "als_posts"
    surfaces = ("feed",)
    Params: ClassVar[type[BaseModel]] = TopK

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        if ctx.bundle is None or "feed" not in ctx.bundle.als:
            return pd.DataFrame(columns=PAIR)
        model = ctx.bundle.als["feed"]
        pairs = ctx.catalog.feed.in_network(users)
        # each distinct user and post looked up once
        user_at, user = pd.factorize(values_of(pairs, "user_id", object))
        post, post_at = np.unique(values_of(pairs, ROW), return_inverse=True)
        post_ids = ctx.catalog.feed.posts["post_id"].to_numpy(dtype=object)[post]
        score = model.score_rows(model.user_rows(user)[user_at], model.item_rows(post_ids)[post_at])
        known = np.flatnonzero(np.isfinite(score))
        item = values_of(pairs, "item_id", object)[known]
        order = known[best_first(values_of(pairs, USER)[known], item, score[known])]
        return _first_per_user(pairs, order, self.params.k)


class UpTo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    up_to: int = Field(default=ELIGIBLE_UP_TO, gt=0)  # circles at most (see ELIGIBLE_UP_TO)


class EligibleCircles(CandidateSource[UpTo]):
    """Every circle that exists at as_of (filters remove joined and gated ones), when
    there are at most `up_to` of them; none on a larger catalog, where scoring every
    circle would cost a request too much (the other sources supply its candidates)."""

    name = "all_circles"
    surfaces = ("circle_suggestions",)
    Params: ClassVar[type[BaseModel]] = UpTo

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        ids = ctx.catalog.circle_ids
        if len(ids) > self.params.up_to:
            _tell_capped(len(ids), self.params.up_to)
            return pd.DataFrame(columns=PAIR)
        return _for_every_user(users, ids)


def _tell_capped(circles: int, up_to: int) -> None:
    global _told_capped
    if not _told_capped:
        _told_capped = True
        log.info(
            "all_circles offers no candidates: %d circles exist, more than its up_to of %d "
            "(the other sources supply them; logged once per process)",
            circles,
            up_to,
        )


class AtMost(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    k: int | None = Field(default=None, gt=0)  # None: all


class FriendsCircles(CandidateSource[AtMost]):
    """Circles the user's friends, follows and transfer partners belong to; with `k`,
    the `k` with the most of them per user."""

    name = "friends_circles"
    surfaces = ("circle_suggestions",)
    Params: ClassVar[type[BaseModel]] = AtMost

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        catalog = ctx.catalog
        # each tie of the users (in table order), beside each circle its other side
        # belongs to (in table order): a merge of the ties with the memberships, without
        # a pass over either table
        user, other = catalog.social.pairs_of(users)
        tie, member = catalog.memberships.rows_each(other)
        user, circle = user[tie], catalog.memberships.ids[1][member]
        if self.params.k is None:
            return pd.DataFrame({"user_id": user, "item_id": circle}).drop_duplicates()
        return _most_frequent(user, circle, self.params.k)


def _most_frequent(user: np.ndarray, item: np.ndarray, k: int) -> pd.DataFrame:
    """Per user, the `k` items found most often beside it, then by item id; by user id:
    what counting the (user, item) pairs then `_top_per_user` gives, without pandas'
    grouping and sorting (which cost a request milliseconds on a few hundred rows)."""
    user_code, user_ids = pd.factorize(user, sort=True)
    item_code, item_ids = pd.factorize(item, sort=True)
    pair, count = np.unique(user_code * len(item_ids) + item_code, return_counts=True)
    pair_user, pair_item = pair // max(len(item_ids), 1), pair % max(len(item_ids), 1)
    order = np.lexsort((pair_item, -count, pair_user))
    order = order[ranks_within(pair_user[order]) < k]
    users = np.asarray(user_ids, dtype=object)[pair_user[order]]
    return frame_of(
        {"user_id": users, "item_id": np.asarray(item_ids, dtype=object)[pair_item[order]]}
    )


class PopularCircles(CandidateSource[TopK]):
    """Circles with the most recent joins."""

    name = "popular_circles"
    surfaces = ("circle_suggestions",)
    Params: ClassVar[type[BaseModel]] = TopK

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        return _for_every_user(users, ctx.catalog.circles_by_joins[: self.params.k])


class CityCircles(CandidateSource[TopK]):
    """Circles with the most members from the user's city (cold start: a new user has a
    city before any history)."""

    name = "city_circles"
    surfaces = ("circle_suggestions",)
    Params: ClassVar[type[BaseModel]] = TopK

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        # by user id, then most local members, then circle id
        asked = np.sort(np.asarray(pd.unique(np.asarray(users, dtype=object)), dtype=object))
        city = pd.Series(asked, dtype=object).map(ctx.catalog.cities).tolist()
        by_city, none = ctx.catalog.circles_by_city, np.empty(0, dtype=object)
        top = [by_city.get(c, none)[: self.params.k] if pd.notna(c) else none for c in city]
        counts = np.fromiter((len(t) for t in top), np.intp, len(top))
        if not counts.sum():
            return pd.DataFrame(columns=PAIR)
        return frame_of({"user_id": np.repeat(asked, counts), "item_id": np.concatenate(top)})


class _ModelCircles(CandidateSource[TopK]):
    """The circles one of the bundle's candidate models recommends most, the user's own
    and those no longer open excluded."""

    surfaces = ("circle_suggestions",)
    Params: ClassVar[type[BaseModel]] = TopK
    model: ClassVar[str]  # the Bundle attribute holding the model per surface

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        models = getattr(ctx.bundle, self.model, {}) if ctx.bundle is not None else {}
        if "circle_suggestions" not in models:
            return pd.DataFrame(columns=PAIR)
        catalog = ctx.catalog
        # the users' own memberships (the model skips only those of the users asked),
        # and no item restriction when every circle of the data is live: a model
        # trained on it knows no other; either for all would cost O(catalog) a request
        mine = catalog.memberships.rows_of(users)
        member_user, member_circle = catalog.memberships.ids
        exclude = frame_of({"user_id": member_user[mine], "item_id": member_circle[mine]})
        found = models["circle_suggestions"].top_items(
            users,
            self.params.k,
            exclude=exclude,
            allowed=None if catalog.every_circle_live else catalog.live_circle_set,
        )
        return frame_of({"user_id": found.user_id, "item_id": found.item_id})


class ALSCircles(_ModelCircles):
    """Circles nearest the user's ALS vector (memberships and joins as implicit data)."""

    name = "als_circles"
    model = "als"


class KNNCircles(_ModelCircles):
    """Circles whose members most overlap those of the user's circles (item-kNN)."""

    name = "knn_circles"
    model = "knn"


class EASECircles(_ModelCircles):
    """Circles the user's circles best reconstruct in EASE's item-to-item regression."""

    name = "ease_circles"
    model = "ease"


class InterestParams(TopK):
    up_to: int = Field(default=ELIGIBLE_UP_TO, gt=0)  # circles looked at, at most


class InterestCircles(CandidateSource[InterestParams]):
    """Circles whose members' payment categories best match the user's (interest_match),
    among every circle, or the `up_to` most joined ones on a larger catalog: the match
    comes from each circle's features, which a request cannot afford for all."""

    name = "interest_circles"
    surfaces = ("circle_suggestions",)
    Params: ClassVar[type[BaseModel]] = InterestParams

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        if ctx.features is None:
            return pd.DataFrame(columns=PAIR)
        catalog = ctx.catalog
        ids = catalog.circle_ids
        if len(ids) > self.params.up_to:
            ids = catalog.circles_by_joins[: self.params.up_to]
        # the features have interest_match or not whatever the rows (it needs payment
        # categories): one row says which, before the features of every pair are built
        if not len(ids) or not len(users) or not self._matches(ctx, users[:1], ids[:1]):
            return pd.DataFrame(columns=PAIR)
        every = _for_every_user(users, ids)
        match = ctx.features(every.assign(as_of=ctx.as_of), ctx.surface).get("interest_match")
        if match is None:
            return pd.DataFrame(columns=PAIR)
        every["interest"] = np.asarray(match, dtype=np.float64)
        return _top_per_user(every, "interest", self.params.k)

    @staticmethod
    def _matches(ctx: RankContext, user: np.ndarray, circle: np.ndarray) -> bool:
        assert ctx.features is not None
        one = _for_every_user(user, circle).assign(as_of=ctx.as_of)
        return ctx.features(one, ctx.surface).get("interest_match") is not None


SOURCES: tuple[type[CandidateSource], ...] = (
    CirclePosts,
    TrendingPosts,
    FreshPosts,
    NewCreatorPosts,
    SocialPosts,
    PopularPosts,
    ALSPosts,
    EligibleCircles,
    FriendsCircles,
    PopularCircles,
    CityCircles,
    ALSCircles,
    KNNCircles,
    EASECircles,
    InterestCircles,
)
