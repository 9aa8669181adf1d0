"""Memberships hidden for training, as if they had never happened.

A membership shows in more than the memberships table: the member's posts in the
circle (and everyone's events on them), the member's feed events on the circle's posts
and suggestion events on the circle. A model trained on a hidden membership that stays
visible there learns a signal it never has when it suggests a circle the user has not
joined; `without` removes them all. A circle the user created is never hidden: its
creator column would give it away.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import ContractData
from features.pit import TS

PAIR = ["user_id", "circle_id"]
# hidden memberships are drawn among each user's RECENT x quota latest (see `hide`)
RECENT = 2


def active_memberships(data: ContractData, until: pd.Timestamp) -> pd.DataFrame:
    """The memberships held at `until`: joined before it, not left by then."""
    m = data["memberships"]
    joined = m["joined_at"].astype(TS) < until
    left = m["left_at"].astype(TS)
    return m[(joined & (left.isna() | (left >= until))).to_numpy()]


def membership_interactions(data: ContractData, until: pd.Timestamp) -> pd.DataFrame:
    """What the candidate models learn from memberships: every (user, circle) joined
    before `until` (left ones too: the user showed the interest), one unit of
    confidence each; the same for the served models and every hiding's refit."""
    m = data["memberships"]
    joined = m[(m["joined_at"].astype(TS) < until).to_numpy()]
    pairs = joined[PAIR].drop_duplicates()
    return pd.DataFrame(
        {
            "user_id": pairs["user_id"].astype(str).to_numpy(),
            "item_id": pairs["circle_id"].astype(str).to_numpy(),
            "weight": 1.0,
        }
    )


def hide(
    data: ContractData,
    active: pd.DataFrame,
    share: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """A bool per `active` membership: hidden. A `share` of each user's hideable ones
    (not in circles the user created), at least one, never all of a user's memberships:
    a user keeps at least one visible. They are drawn at random among the user's
    RECENT x that many latest hideable ones (ties in date all count, so undated data
    draws among all): what a model learns to find should look like a next join."""
    circles = data["circles"]
    creator = circles["creator_id"] if "creator_id" in circles else pd.Series(dtype=object)
    created_by = dict(zip(circles["circle_id"], creator, strict=False))
    user = active["user_id"].to_numpy(dtype=object)
    own = active["circle_id"].map(created_by).to_numpy(dtype=object) == user
    counts = pd.Series(1, index=active.index).groupby(user).transform("size").to_numpy()
    hideable = pd.Series(~own, index=active.index).groupby(user).transform("sum").to_numpy()
    quota = np.minimum(np.maximum(1, np.round(share * hideable)), counts - 1)
    joined = active["joined_at"].astype(TS).to_numpy()
    newest = (
        pd.Series(np.where(own, np.datetime64("NaT"), joined), index=active.index)
        .groupby(user)
        .rank(method="min", ascending=False)
        .to_numpy()
    )
    recent = ~own & (newest <= RECENT * quota)
    order = np.where(recent, rng.random(len(active)), np.inf)
    rank = pd.Series(order).groupby(user).rank(method="first").to_numpy()
    return recent & (rank <= quota)


def without(data: ContractData, hidden: pd.DataFrame) -> ContractData:
    """`data` with the `hidden` memberships (rows of its memberships table) and every
    trace of them removed (see the module's docstring)."""
    tables = dict(data.tables)
    tables["memberships"] = data["memberships"].drop(index=hidden.index)
    pairs = pd.MultiIndex.from_frame(hidden[PAIR])
    gone_posts: set[str] = set()
    if "posts" in tables:
        posts = tables["posts"]
        mine = pd.MultiIndex.from_arrays([posts["author_id"], posts["circle_id"]]).isin(pairs)
        gone_posts = set(posts.loc[mine, "post_id"])
        tables["posts"] = posts[~mine]
    if "events" in tables:
        tables["events"] = _events_without(tables["events"], data, pairs, gone_posts)
    return ContractData(tables, data.report)


def _events_without(
    events: pd.DataFrame, data: ContractData, pairs: pd.MultiIndex, gone_posts: set[str]
) -> pd.DataFrame:
    """The events that reveal none of the hidden (user, circle) `pairs`: not on a
    removed post, not the user's on the circle (a suggestion) or on its posts (the feed)."""
    circle = events["item_id"].where(events["surface"] == "circle_suggestions")
    if data.has("posts"):
        post_circle = dict(zip(data["posts"]["post_id"], data["posts"]["circle_id"], strict=True))
        on_feed = events["surface"] == "feed"
        circle = circle.where(~on_feed, events["item_id"].map(post_circle))
    reveals = pd.MultiIndex.from_arrays([events["user_id"], circle]).isin(pairs)
    reveals |= events["item_id"].isin(gone_posts).to_numpy() & (events["surface"] == "feed")
    return events[~np.asarray(reveals)]
