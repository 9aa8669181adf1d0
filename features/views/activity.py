"""Community activity: author tenure and output, circle size, growth and member-made share.

These describe the supply side of the feed: who creates (and who is a *new* creator, to
be given exposure) and which circles are alive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..pit import Sums, days, point_in_time
from ..streams import membership_changes, post_stream
from .base import FeatureView, Streams, ViewParams


def _posts(streams: Streams) -> pd.DataFrame:
    return streams.get("posts", lambda s: post_stream(s.data))


def _user_posts(streams: Streams) -> pd.DataFrame:
    """The post stream keyed by its author as a user (partitioned by user_id)."""
    return streams.get(
        "user_posts",
        lambda s: _posts(s)[["author_id", "circle_id", "ts", "posts"]].rename(
            columns={"author_id": "user_id"}
        ),
    )


def _members(streams: Streams) -> pd.DataFrame:
    return streams.get("memberships", lambda s: membership_changes(s.data))


def _author(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    rows = stream[["author_id", "ts", "posts"]].sort_values("ts", kind="stable")
    first = ~rows.duplicated("author_id")
    rows = rows.assign(first_day=np.where(first, days(rows["ts"]), 0.0))
    month = pd.Timedelta(days=30)
    got = point_in_time(
        rows, queries, ["author_id"], [Sums(("posts", "first_day")), Sums(("posts",), (month,))]
    )
    has_posts = got["posts_all"].to_numpy() > 0
    tenure = np.where(has_posts, days(queries["as_of"]) - got["first_day_all"].to_numpy(), np.nan)
    return pd.DataFrame(
        {
            "author_posts": got["posts_all"].to_numpy(),
            "author_posts_30d": got["posts_30d"].to_numpy(),
            "author_tenure_days": tenure,
            "author_new_creator": (tenure <= p.config.new_creator_days).astype(np.float64),
        },
        index=queries.index,
    )


def _circle_members(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    growth = pd.Timedelta(days=p.config.growth_days)
    got = point_in_time(
        stream[["circle_id", "ts", "members"]],
        queries,
        ["circle_id"],
        [Sums(("members",), (None, growth))],
    )
    size = got["members_all"].to_numpy()
    net = got[f"members_{p.config.growth_days}d"].to_numpy()
    return pd.DataFrame(
        {
            "circle_members": size,
            "circle_net_joins": net,
            "circle_growth": net / np.maximum(size - net, 1.0),
        },
        index=queries.index,
    )


def _circle_posts(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    week, month = pd.Timedelta(days=7), pd.Timedelta(days=30)
    got = point_in_time(
        stream[["circle_id", "ts", "posts", "ugc_posts"]],
        queries,
        ["circle_id"],
        [Sums(("posts", "ugc_posts"), (week, month))],
    )
    posts_30 = got["posts_30d"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        ugc_share = np.where(
            posts_30 > 0, got["ugc_posts_30d"].to_numpy() / np.maximum(posts_30, 1.0), np.nan
        )
    return pd.DataFrame(
        {
            "circle_posts_7d": got["posts_7d"].to_numpy(),
            "circle_posts_30d": posts_30,
            "circle_ugc_share_30d": ugc_share,
        },
        index=queries.index,
    )


def _user_circle_posts(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    got = point_in_time(
        stream[["user_id", "circle_id", "ts", "posts"]],
        queries,
        ["user_id", "circle_id"],
        [Sums(("posts",))],
    )
    return pd.DataFrame({"uc_posts": got["posts_all"].to_numpy()}, index=queries.index)


AUTHOR_ACTIVITY = FeatureView(
    name="author_activity",
    entity="author",
    keys=("author_id",),
    sources=("posts",),
    description="Posts written (all, 30 days), days since the first post, new-creator flag.",
    stream=_posts,
    aggregate=_author,
)

CIRCLE_MEMBERS = FeatureView(
    name="circle_members",
    entity="circle",
    keys=("circle_id",),
    sources=("memberships",),
    description="Members at t, net joins over the growth window and the growth rate.",
    stream=_members,
    aggregate=_circle_members,
)

CIRCLE_POSTS = FeatureView(
    name="circle_posts",
    entity="circle",
    keys=("circle_id",),
    sources=("posts",),
    description="Posts in 7 and 30 days and the share that is member-made (UGC).",
    stream=_posts,
    aggregate=_circle_posts,
)

USER_CIRCLE_POSTS = FeatureView(
    name="user_circle_posts",
    entity="user_circle",
    keys=("user_id", "circle_id"),
    sources=("posts",),
    description="Posts the user wrote in the circle before t (on Last.fm: tags the user gave "
    "the artist).",
    stream=_user_posts,
    aggregate=_user_circle_posts,
)
