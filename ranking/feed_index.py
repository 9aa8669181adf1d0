"""The feed's side of a catalog: fresh posts with their engagement, each user's
in-network posts, deleted posts, new creators and post ranks, at the catalog's instant.
Only rows strictly before it count."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from circlerank.arrays import user_codes
from circlerank.frames import frame_of
from features.pit import TS

from .history import POSITIVE
from .instant import Memos, before, not_yet
from .item_index import ROW

if TYPE_CHECKING:
    from .catalog import Catalog

# a candidate's user as an integer code in user id order, added by the pipeline once so
# that components group rows by user without hashing the ids again
USER = "user"


class FeedIndex:
    """What the feed reads of posts in `catalog` (its data, instant, freshness window,
    memberships and history)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._feed_memo: tuple[tuple[str, ...], pd.DataFrame] | None = None
        self._memos = Memos()

    @cached_property
    def posts(self) -> pd.DataFrame:
        """Posts created in [as_of - freshness, as_of) and not deleted by as_of, with
        their time-decayed engagement, their impressions and their positive actions so
        far."""
        if not self._catalog.data.has("posts"):
            columns = ["post_id", "circle_id", "author_id", "created_at", "is_official"]
            return pd.DataFrame(columns=[*columns, "engagement", "impressions", "responses"])
        p = self._catalog.data["posts"]
        created = p["created_at"].astype(TS)
        keep = (
            before(created, self._catalog.as_of)
            & (created >= self._catalog.as_of - self._catalog.freshness).to_numpy(dtype=bool)
            & not_yet(p["deleted_at"], self._catalog.as_of)
        )
        cols = ["post_id", "circle_id", "author_id", "created_at", "is_official"]
        fresh = p.loc[keep, cols].reset_index(drop=True)
        return fresh.assign(
            engagement=fresh["post_id"].map(self._engagement).fillna(0.0),
            impressions=fresh["post_id"].map(self.impression_counts).fillna(0).astype(np.int64),
            responses=fresh["post_id"].map(self.response_counts).fillna(0).astype(np.int64),
        )

    @cached_property
    def _positive(self) -> pd.DataFrame:
        """item_id, surface, ts of the positive actions before as_of: read once for the
        posts' engagement and their responses."""
        if not self._catalog.data.has("events"):
            return pd.DataFrame(columns=["item_id", "surface", "ts"])
        e = self._catalog.data["events"]
        keep = e["action"].isin(POSITIVE).to_numpy() & before(e["ts"], self._catalog.as_of)
        return e.loc[keep, ["item_id", "surface", "ts"]]

    @cached_property
    def _engagement(self) -> pd.Series:
        """Decayed count of positive feed actions per item before as_of."""
        e = self._positive
        if e.empty:
            return pd.Series(dtype=np.float64)
        age = (self._catalog.as_of - e["ts"].astype(TS)) / self._catalog.half_life
        weight = np.exp2(-age.to_numpy(dtype=np.float64))
        return pd.Series(weight, index=e["item_id"].to_numpy()).groupby(level=0).sum()

    @cached_property
    def popular_open_posts(self) -> np.ndarray:
        """Fresh posts of circles without a credit gate, most engaged first."""
        open_ids = self._catalog.circles.loc[
            self._catalog.circles["min_credit_score"].isna(), "circle_id"
        ]
        posts = self.posts[self.posts["circle_id"].isin(open_ids)]
        ranked = posts.sort_values("engagement", ascending=False, kind="stable")
        return ranked["post_id"].to_numpy()

    @cached_property
    def popular_open_rows(self) -> np.ndarray:
        """The rows in `posts` (and `item_index.table("feed")`) of `popular_open_posts`."""
        return self._catalog.item_index.rows(
            "feed", pd.Series(self.popular_open_posts, dtype=object)
        )

    @cached_property
    def impression_counts(self) -> pd.Series:
        """Feed impressions per post before as_of."""
        shown = self._catalog.history.events("feed", ("impression",), None)
        return shown["item_id"].value_counts()

    @cached_property
    def response_counts(self) -> pd.Series:
        """Positive feed actions (click, like, comment, share) per post before as_of."""
        acted = self._positive
        feed = (acted["surface"] == "feed").to_numpy(dtype=bool)
        return acted.loc[feed, "item_id"].value_counts()

    def by_quiet_author(self, min_response: float) -> np.ndarray:
        """Per row of `item_index.table("feed")`, then False for the not-live slot: whether
        the post is member-made and its author's fresh member posts drew fewer than
        `min_response` positive actions each, on average, so far."""

        def flags() -> np.ndarray:
            posts = self._catalog.item_index.table("feed")
            member = (posts["is_official"] == False).to_numpy(dtype=bool)  # noqa: E712
            author = posts["author_id"].to_numpy(dtype=object)
            answered = posts["responses"].to_numpy(dtype=np.float64)
            per_post = pd.Series(answered[member]).groupby(author[member]).mean()
            mean = pd.Series(author).map(per_post).to_numpy(dtype=np.float64)
            quiet = member & (np.nan_to_num(mean, nan=np.inf) < min_response)
            return np.append(quiet, False)

        return self._memos.get(("by_quiet_author", min_response), flags)

    @cached_property
    def deleted_posts(self) -> frozenset[str]:
        """Posts deleted before as_of."""
        if not self._catalog.data.has("posts"):
            return frozenset()
        p = self._catalog.data["posts"]
        return frozenset(p.loc[before(p["deleted_at"], self._catalog.as_of), "post_id"].tolist())

    def deleted_by_row(self) -> np.ndarray:
        """Per row of `item_index.table("feed")`, then False for the not-live slot: whether the post
        is in `deleted_posts` (a live post is not, unless its id is repeated)."""

        def flags() -> np.ndarray:
            deleted, ids = self.deleted_posts, self._catalog.item_index.table("feed").index.tolist()
            return np.append(np.fromiter((i in deleted for i in ids), bool, len(ids)), False)

        return self._memos.get(("deleted_by_row",), flags)

    def new_creators(self, days: float) -> frozenset[str]:
        """Authors whose first post (before as_of) is at most `days` old."""

        def young() -> frozenset[str]:
            first = self._first_posts
            return frozenset(first.index[first >= self._catalog.as_of - pd.Timedelta(days=days)])

        return self._memos.get(("new_creators", days), young)

    def by_new_creator(self, days: float) -> np.ndarray:
        """Per row of `item_index.table("feed")`, then False for the not-live slot: whether the
        post's author is a new creator (`new_creators(days)`)."""

        def flags() -> np.ndarray:
            new = self.new_creators(days)
            authors = self._catalog.item_index.table("feed")["author_id"].tolist()
            return np.append(np.fromiter((a in new for a in authors), bool, len(authors)), False)

        return self._memos.get(("by_new_creator", days), flags)

    @cached_property
    def _first_posts(self) -> pd.Series:
        if not self._catalog.data.has("posts"):
            return pd.Series(dtype="datetime64[us, UTC]")
        p = self._catalog.data["posts"]
        p = p[before(p["created_at"], self._catalog.as_of)]
        return p["created_at"].astype(TS).groupby(p["author_id"].to_numpy(dtype=object)).min()

    def in_network(self, users: np.ndarray) -> pd.DataFrame:
        """(user_id, circle_id, item_id, author_id): fresh posts of the circles each
        user belongs to, not written by the user (the in-network feed surface), with
        each post's ROW and each user's code (USER); by membership row, then post row.
        Several sources of one request ask for the same users: the last answer is kept."""
        key, memo = tuple(users), self._feed_memo  # one read: safe across threads
        if memo is not None and memo[0] == key:
            return memo[1]
        index = self._feed_index
        member = self._catalog.memberships.rows_of(users)
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
        return _FeedIndex(self._catalog.memberships.table, self.posts)

    def post_rank(self, by: str) -> np.ndarray:
        """Each post's place (by its row in `posts`) when posts are ordered by `by`,
        highest first and missing last, then by id."""

        def ranked() -> np.ndarray:
            ordered = self.posts.sort_values([by, "post_id"], ascending=[False, True])
            rank = np.empty(len(ordered), dtype=np.int64)
            rank[ordered.index.to_numpy()] = np.arange(len(ordered))
            return rank

        return self._memos.get(("post_rank", by), ranked)


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
