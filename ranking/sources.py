"""Candidate sources: where the items a pipeline ranks come from."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from circlerank.frames import frame_of, values_of

from .catalog import ROW, USER
from .components import CandidateSource, RankContext, best_first, by_user_then, ranks_within

PAIR = ["user_id", "item_id"]
PAIR_ROW = [*PAIR, ROW]  # feed posts: their rows come with them


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
    pairs = ctx.catalog.feed_posts(users)
    rank = ctx.catalog.post_rank(by)[values_of(pairs, ROW)]
    return _first_per_user(pairs, by_user_then(values_of(pairs, USER), rank), k)


class CirclePosts(CandidateSource):
    """Every fresh post in the circles the user belongs to: the in-network feed."""

    name = "circle_posts"
    surfaces = ("feed",)

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        return _pairs_at(ctx.catalog.feed_posts(users))


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
        pairs = ctx.catalog.feed_posts(users)
        new = ctx.catalog.by_new_creator(self.params.days)[values_of(pairs, ROW)]
        return _pairs_at(pairs, new)


class SocialPosts(CandidateSource):
    """Posts in the user's circles by friends, followed users and transfer partners."""

    name = "social_posts"
    surfaces = ("feed",)

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        pairs = ctx.catalog.feed_posts(users)
        tie_user, tie_other = ctx.catalog.tie_pairs(users)
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
        return _for_every_user(users, catalog.popular_open_posts[:k], catalog.popular_open_rows[:k])


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
        pairs = ctx.catalog.feed_posts(users)
        # each distinct user and post looked up once
        user_at, user = pd.factorize(values_of(pairs, "user_id", object))
        post, post_at = np.unique(values_of(pairs, ROW), return_inverse=True)
        post_ids = ctx.catalog.posts["post_id"].to_numpy(dtype=object)[post]
        score = model.score_rows(model.user_rows(user)[user_at], model.item_rows(post_ids)[post_at])
        known = np.flatnonzero(np.isfinite(score))
        item = values_of(pairs, "item_id", object)[known]
        order = known[best_first(values_of(pairs, USER)[known], item, score[known])]
        return _first_per_user(pairs, order, self.params.k)


class EligibleCircles(CandidateSource):
    """Every circle that exists at as_of (filters remove joined and gated ones)."""

    name = "all_circles"
    surfaces = ("circle_suggestions",)

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        ids = ctx.catalog.circles["circle_id"].to_numpy()
        return _for_every_user(users, ids)


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
        ties = ctx.catalog.ties
        ties = ties[ties["user_id"].isin(users)]
        members = ctx.catalog.members.rename(columns={"user_id": "other_id"})
        found = ties.merge(members, on="other_id").rename(columns={"circle_id": "item_id"})
        if self.params.k is None:
            return found[PAIR].drop_duplicates()
        counted = found.groupby(PAIR, sort=False).size().rename("friends").reset_index()
        return _top_per_user(counted, "friends", self.params.k)


class PopularCircles(CandidateSource[TopK]):
    """Circles with the most recent joins."""

    name = "popular_circles"
    surfaces = ("circle_suggestions",)
    Params: ClassVar[type[BaseModel]] = TopK

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        ids = ctx.catalog.circles["circle_id"]
        joins = ids.map(ctx.catalog.joins).fillna(0.0).to_numpy()
        top = ids.to_numpy()[np.argsort(-joins, kind="stable")[: self.params.k]]
        return _for_every_user(users, top)


class CityCircles(CandidateSource[TopK]):
    """Circles with the most members from the user's city (cold start: a new user has a
    city before any history)."""

    name = "city_circles"
    surfaces = ("circle_suggestions",)
    Params: ClassVar[type[BaseModel]] = TopK

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        city = ctx.catalog.cities
        members = ctx.catalog.members.assign(city=lambda m: m["user_id"].map(city))
        local = members.groupby(["city", "circle_id"]).size().rename("local").reset_index()
        asked = pd.DataFrame({"user_id": users, "city": pd.Series(users).map(city).to_numpy()})
        found = asked.merge(local, on="city").rename(columns={"circle_id": "item_id"})
        return _top_per_user(found, "local", self.params.k)


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
        found = models["circle_suggestions"].recommend(
            users,
            self.params.k,
            exclude=ctx.catalog.members.set_axis(PAIR, axis=1),
            allowed=set(ctx.catalog.circles["circle_id"]),
        )
        return found[PAIR]


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


class InterestCircles(CandidateSource[TopK]):
    """Circles whose members' payment categories best match the user's (interest_match)."""

    name = "interest_circles"
    surfaces = ("circle_suggestions",)
    Params: ClassVar[type[BaseModel]] = TopK

    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        if ctx.features is None:
            return pd.DataFrame(columns=PAIR)
        every = EligibleCircles().fetch(ctx, users)
        rows = every.assign(as_of=ctx.as_of)
        match = ctx.features(rows, ctx.surface).get("interest_match")
        if match is None:
            return pd.DataFrame(columns=PAIR)
        every["interest"] = np.asarray(match, dtype=np.float64)
        return _top_per_user(every, "interest", self.params.k)


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
