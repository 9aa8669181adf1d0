"""What the world looked like at one instant: the state candidate sources and filters
read. Only rows strictly before `as_of` count, so offline replay at TS sees what a live
request at TS would have seen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar, cast

import numpy as np
import pandas as pd

from circlerank.arrays import user_codes
from circlerank.frames import frame_of
from features.codes import positions
from features.contract import ContractData
from features.pit import TS

from .history import History
from .item_index import ROW, ItemIndex
from .memberships import Memberships, before
from .social import SocialTies

if TYPE_CHECKING:
    from .explain import Explainer


T = TypeVar("T")
# a candidate's user as an integer code in user id order, added by the pipeline once so
# that components group rows by user without hashing the ids again
USER = "user"


def lookup(values: pd.Series, ids: pd.Series) -> pd.Series:
    """`ids.map(values)` for a uniquely indexed `values`, by position: a map of object
    ids onto a str index converts the whole index on every call."""
    rows = positions(ids, values.index)
    return pd.Series(values.array.take(rows, allow_fill=True), index=ids.index)


def _not_yet(column: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
    """True where the time is missing or not before as_of (a leave, a deletion)."""
    return ~before(column, as_of)


# the feed's freshness window unless strategies.toml sets `freshness_days`
FRESHNESS_DAYS = 7.0


@dataclass
class Catalog:
    """Memberships, posts, circles, credit and ties in force at `as_of`."""

    data: ContractData
    as_of: pd.Timestamp
    freshness: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(days=FRESHNESS_DAYS))
    half_life: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(days=1))
    _feed_memo: tuple[tuple[str, ...], pd.DataFrame] | None = field(default=None, repr=False)

    @cached_property
    def memberships(self) -> Memberships:
        """The memberships active at as_of, by user."""
        return Memberships(self.data, self.as_of, self.half_life)

    @cached_property
    def circles(self) -> pd.DataFrame:
        """Circles created before as_of with their size at as_of."""
        c = self.data["circles"]
        c = c[before(c["created_at"], self.as_of)].reset_index(drop=True)
        size = self.memberships.table["circle_id"].value_counts()
        return c.assign(members=c["circle_id"].map(size).fillna(0).astype(np.int64))

    @cached_property
    def circle_ids(self) -> np.ndarray:
        """The ids of `circles`, as an object array (a request reads them as is)."""
        return self.circles["circle_id"].to_numpy(dtype=object)

    @cached_property
    def every_circle_live(self) -> bool:
        """Whether every circle of the data exists at as_of (ids are unique: the
        contract quarantines repeated keys), so that nothing a model trained on this
        data recommends needs checking against `circles`."""
        return len(self.circles) == len(self.data["circles"])

    @cached_property
    def live_circle_set(self) -> frozenset[str]:
        """The ids of `circles`, as a set."""
        return frozenset(self.circle_ids.tolist())

    @cached_property
    def circles_by_joins(self) -> np.ndarray:
        """The ids of `circles`, most decayed joins first, then table order."""
        joins = self.circles["circle_id"].map(self.memberships.decayed_joins)
        joins = joins.fillna(0.0).to_numpy(np.float64)
        return self.circle_ids[np.argsort(-joins, kind="stable")]

    @cached_property
    def circles_by_city(self) -> dict[str, np.ndarray]:
        """city -> the ids of the circles with members from it, most such members first,
        then by id (the circles of one city a request reads, without a pass over the
        memberships)."""
        members = self.memberships.table.assign(city=lambda m: m["user_id"].map(self.cities))
        local = members.groupby(["city", "circle_id"]).size().rename("local").reset_index()
        local = local.sort_values(["city", "local", "circle_id"], ascending=[True, False, True])
        city = local["city"].to_numpy(dtype=object)
        ids = local["circle_id"].to_numpy(dtype=object)
        if not len(city):
            return {}
        starts = np.flatnonzero(np.concatenate(([True], city[1:] != city[:-1])))
        ends = np.append(starts[1:], len(city))
        return {city[a]: ids[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)}

    @cached_property
    def posts(self) -> pd.DataFrame:
        """Posts created in [as_of - freshness, as_of) and not deleted by as_of, with
        their time-decayed engagement and their impressions so far."""
        if not self.data.has("posts"):
            columns = ["post_id", "circle_id", "author_id", "created_at", "is_official"]
            return pd.DataFrame(columns=[*columns, "engagement", "impressions"])
        p = self.data["posts"]
        created = p["created_at"].astype(TS)
        keep = (
            before(created, self.as_of)
            & (created >= self.as_of - self.freshness).to_numpy(dtype=bool)
            & _not_yet(p["deleted_at"], self.as_of)
        )
        cols = ["post_id", "circle_id", "author_id", "created_at", "is_official"]
        fresh = p.loc[keep, cols].reset_index(drop=True)
        return fresh.assign(
            engagement=fresh["post_id"].map(self._engagement).fillna(0.0),
            impressions=fresh["post_id"].map(self.impression_counts).fillna(0).astype(np.int64),
        )

    @cached_property
    def _engagement(self) -> pd.Series:
        """Decayed count of positive feed actions per item before as_of."""
        if not self.data.has("events"):
            return pd.Series(dtype=np.float64)
        e = self.data["events"]
        positive = e["action"].isin(("click", "like", "comment", "share", "join")).to_numpy()
        e = e[positive & before(e["ts"], self.as_of)]
        age = (self.as_of - e["ts"].astype(TS)) / self.half_life
        weight = np.exp2(-age.to_numpy(dtype=np.float64))
        return pd.Series(weight, index=e["item_id"].to_numpy()).groupby(level=0).sum()

    @cached_property
    def credit(self) -> pd.Series:
        """The credit score in force per user (latest row before as_of)."""
        if not self.data.has("credit_scores"):
            return pd.Series(dtype=np.float64)
        c = self.data["credit_scores"]
        c = c[before(c["ts"], self.as_of)].sort_values("ts", kind="stable")
        return c.groupby("user_id")["score"].last().astype(np.float64)

    @cached_property
    def social(self) -> SocialTies:
        """Friends, follows and transfer partners in force at as_of."""
        return SocialTies(self.data, self.as_of)

    @cached_property
    def cities(self) -> pd.Series:
        return self.data["users"].set_index("user_id")["city"]

    @cached_property
    def popular_open_posts(self) -> np.ndarray:
        """Fresh posts of circles without a credit gate, most engaged first."""
        open_ids = self.circles.loc[self.circles["min_credit_score"].isna(), "circle_id"]
        posts = self.posts[self.posts["circle_id"].isin(open_ids)]
        ranked = posts.sort_values("engagement", ascending=False, kind="stable")
        return ranked["post_id"].to_numpy()

    @cached_property
    def popular_open_rows(self) -> np.ndarray:
        """The rows in `posts` (and `item_index.table("feed")`) of `popular_open_posts`."""
        return self.item_index.rows("feed", pd.Series(self.popular_open_posts, dtype=object))

    def _memo(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        """`compute()` once per key for this catalog (it lives as long as its snapshot)."""
        if key not in self._memos:
            self._memos[key] = compute()
        return cast(T, self._memos[key])

    @cached_property
    def _memos(self) -> dict[tuple[object, ...], object]:
        return {}

    @cached_property
    def item_index(self) -> ItemIndex:
        """The live items of each surface by row (fresh posts, live circles)."""
        return ItemIndex(self.posts, self.circles, lambda: self.memberships.decayed_joins)

    @cached_property
    def explainer(self) -> Explainer:
        """Explanations of items ranked from this catalog."""
        from .explain import Explainer

        return Explainer(self)

    @cached_property
    def history(self) -> History:
        """What each user saw, hid, dismissed, skipped or left before as_of."""
        return History(self.data, self.as_of)

    @cached_property
    def impression_counts(self) -> pd.Series:
        """Feed impressions per post before as_of."""
        shown = self.history.events("feed", ("impression",), None)
        return shown["item_id"].value_counts()

    @cached_property
    def deleted_posts(self) -> frozenset[str]:
        """Posts deleted before as_of."""
        if not self.data.has("posts"):
            return frozenset()
        p = self.data["posts"]
        return frozenset(p.loc[before(p["deleted_at"], self.as_of), "post_id"].tolist())

    def deleted_by_row(self) -> np.ndarray:
        """Per row of `item_index.table("feed")`, then False for the not-live slot: whether the post
        is in `deleted_posts` (a live post is not, unless its id is repeated)."""

        def flags() -> np.ndarray:
            deleted, ids = self.deleted_posts, self.item_index.table("feed").index.tolist()
            return np.append(np.fromiter((i in deleted for i in ids), bool, len(ids)), False)

        return self._memo(("deleted_by_row",), flags)

    def new_creators(self, days: float) -> frozenset[str]:
        """Authors whose first post (before as_of) is at most `days` old."""

        def young() -> frozenset[str]:
            first = self._first_posts
            return frozenset(first.index[first >= self.as_of - pd.Timedelta(days=days)])

        return self._memo(("new_creators", days), young)

    def by_new_creator(self, days: float) -> np.ndarray:
        """Per row of `item_index.table("feed")`, then False for the not-live slot: whether the
        post's author is a new creator (`new_creators(days)`)."""

        def flags() -> np.ndarray:
            new = self.new_creators(days)
            authors = self.item_index.table("feed")["author_id"].tolist()
            return np.append(np.fromiter((a in new for a in authors), bool, len(authors)), False)

        return self._memo(("by_new_creator", days), flags)

    @cached_property
    def _first_posts(self) -> pd.Series:
        if not self.data.has("posts"):
            return pd.Series(dtype="datetime64[us, UTC]")
        p = self.data["posts"]
        p = p[before(p["created_at"], self.as_of)]
        return p["created_at"].astype(TS).groupby(p["author_id"].to_numpy(dtype=object)).min()

    def feed_posts(self, users: np.ndarray) -> pd.DataFrame:
        """(user_id, circle_id, item_id, author_id): fresh posts of the circles each
        user belongs to, not written by the user (the in-network feed surface), with
        each post's ROW and each user's code (USER); by membership row, then post row.
        Several sources of one request ask for the same users: the last answer is kept."""
        key, memo = tuple(users), self._feed_memo  # one read: safe across threads
        if memo is not None and memo[0] == key:
            return memo[1]
        index = self._feed_index
        member = self.memberships.rows_of(users)
        # each membership row repeated once per post of its circle, beside those posts
        # (in table order: what a merge of the memberships with the posts gives)
        circle = index.member_circle[member]
        count = index.circle_end[circle] - index.circle_start[circle]
        member = np.repeat(member, count)
        within = np.arange(len(member)) - np.repeat(np.cumsum(count) - count, count)
        post = index.post_by_circle[np.repeat(index.circle_start[circle], count) + within]
        mine = index.post_author[post] != index.member_user[member]
        member, post = member[mine], post[mine]
        user = index.member_user_id[member]
        pairs = frame_of(
            {
                "user_id": np.asarray(user, dtype=object),
                "circle_id": np.asarray(index.member_circle_id[member], dtype=object),
                "item_id": np.asarray(index.post_id[post], dtype=object),
                "author_id": np.asarray(index.post_author_id[post], dtype=object),
                ROW: post.astype(np.int64),
                USER: user_codes(user),
            }
        )
        self._feed_memo = (key, pairs)
        return pairs

    @cached_property
    def _feed_index(self) -> _FeedIndex:
        return _FeedIndex(self.memberships.table, self.posts)

    def post_rank(self, by: str) -> np.ndarray:
        """Each post's place (by its row in `posts`) when posts are ordered by `by`,
        highest first and missing last, then by id."""

        def ranked() -> np.ndarray:
            ordered = self.posts.sort_values([by, "post_id"], ascending=[False, True])
            rank = np.empty(len(ordered), dtype=np.int64)
            rank[ordered.index.to_numpy()] = np.arange(len(ordered))
            return rank

        return self._memo(("post_rank", by), ranked)


class _FeedIndex:
    """Memberships and posts as arrays for the in-network feed: each circle's post rows
    (a block of `post_by_circle`), and members and authors as codes over one set of
    people, so that a batch's user x post pairs are built without a merge."""

    def __init__(self, members: pd.DataFrame, posts: pd.DataFrame) -> None:
        circles = pd.factorize(pd.concat([members["circle_id"], posts["circle_id"]]).array)[0]
        people = pd.factorize(pd.concat([members["user_id"], posts["author_id"]]).array)[0]
        n = len(members)
        self.member_circle, post_circle = circles[:n], circles[n:]
        self.member_user, self.post_author = people[:n], people[n:]
        self.post_by_circle = np.argsort(post_circle, kind="stable")
        counts = np.bincount(post_circle, minlength=int(circles.max(initial=-1)) + 1)
        self.circle_end = np.cumsum(counts)
        self.circle_start = self.circle_end - counts
        self.member_user_id = members["user_id"].to_numpy(dtype=object)
        self.member_circle_id = members["circle_id"].to_numpy(dtype=object)
        self.post_id = posts["post_id"].to_numpy(dtype=object)
        self.post_author_id = posts["author_id"].to_numpy(dtype=object)
