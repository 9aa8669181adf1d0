"""Social (user, user x author, user x circle): friends, follows and money transfers.

Transfers are the strongest tie a payment app sees: people who pay each other know each
other. Views split by source table, so a data set with a friend graph but no transfers
keeps its friend features and has no transfer columns at all (never zero-filled ones).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..pit import DecayedSums, Sums, point_in_time, window_name
from ..streams import circle_tie_stream, tie_stream
from .base import FeatureView, Streams, ViewParams


def _ties(streams: Streams) -> pd.DataFrame:
    return streams.get("ties", lambda s: tie_stream(s.data))


def _circle_ties(streams: Streams) -> pd.DataFrame:
    return streams.get("circle_ties", lambda s: circle_tie_stream(s.data))


def _only(stream: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """The rows carrying `value`, with just the keys, ts and that column."""
    if value not in stream.columns:
        return pd.DataFrame(
            {**{k: stream[k].iloc[:0] for k in keys}, "ts": stream["ts"].iloc[:0], value: []}
        )
    rows = stream[stream[value] != 0]
    return rows[[*keys, "ts", value]]


def _friends(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    mine = point_in_time(
        _only(stream, ["user_id"], "friend"), queries, ["user_id"], [Sums(("friend",))]
    )
    following = point_in_time(
        _only(stream, ["user_id"], "follow"), queries, ["user_id"], [Sums(("follow",))]
    )
    followers = point_in_time(
        _only(stream, ["user_id"], "follower"), queries, ["user_id"], [Sums(("follower",))]
    )
    return pd.DataFrame(
        {
            "soc_friends": mine["friend_all"].to_numpy(),
            "soc_following": following["follow_all"].to_numpy(),
            "soc_followers": followers["follower_all"].to_numpy(),
        },
        index=queries.index,
    )


def _transfers(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    rows = _only(stream, ["user_id", "other_id"], "transfer").sort_values("ts", kind="stable")
    first = (~rows.duplicated(["user_id", "other_id"])).to_numpy(dtype=np.float64)
    rows = rows.assign(new_partner=first)
    month = pd.Timedelta(days=30)
    got = point_in_time(
        rows, queries, ["user_id"], [Sums(("new_partner",)), Sums(("transfer",), (month,))]
    )
    return pd.DataFrame(
        {
            "soc_transfer_partners": got["new_partner_all"].to_numpy(),
            "soc_transfers_30d": got["transfer_30d"].to_numpy(),
        },
        index=queries.index,
    )


def _pair(
    value: str, prefix: str, other: str, source_other: str, decayed: bool = True
) -> Callable[..., pd.DataFrame]:
    """The count of one pair fact before t, e.g. transfers between user and author, and
    (for flows, not for +1/-1 states) its time-decayed count."""

    def aggregate(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
        keys = ["user_id", other]
        rows = _only(stream.rename(columns={source_other: other}), keys, value)
        half = p.config.half_life
        got = point_in_time(
            rows,
            queries,
            keys,
            [Sums((value,)), DecayedSums((value,), half)],
            reference=p.reference,
        )
        out = {f"{prefix}_{value}": got[f"{value}_all"].to_numpy()}
        if decayed:
            out[f"{prefix}_{value}_decayed"] = got[f"{value}_decay{window_name(half)}"].to_numpy()
        return pd.DataFrame(out, index=queries.index)

    return aggregate


def _edges_to_author(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    keys = ["user_id", "author_id"]
    renamed = stream.rename(columns={"other_id": "author_id"})
    friend = point_in_time(_only(renamed, keys, "friend"), queries, keys, [Sums(("friend",))])
    follow = point_in_time(_only(renamed, keys, "follow"), queries, keys, [Sums(("follow",))])
    return pd.DataFrame(
        {
            "ua_is_friend": np.minimum(friend["friend_all"].to_numpy(), 1.0),
            "ua_follows": np.minimum(follow["follow_all"].to_numpy(), 1.0),
        },
        index=queries.index,
    )


USER_SOCIAL = FeatureView(
    name="user_social",
    entity="user",
    keys=("user_id",),
    sources=("social_edges",),
    description="Friends, accounts followed and followers.",
    stream=_ties,
    aggregate=_friends,
)

USER_TRANSFERS = FeatureView(
    name="user_transfers",
    entity="user",
    keys=("user_id",),
    sources=("transfers",),
    description="Distinct transfer partners and transfers in the last 30 days.",
    stream=_ties,
    aggregate=_transfers,
)

USER_AUTHOR_SOCIAL = FeatureView(
    name="user_author_social",
    entity="user_author",
    keys=("user_id", "author_id"),
    sources=("social_edges",),
    description="Whether the user is friends with, or follows, a post's author.",
    stream=_ties,
    aggregate=_edges_to_author,
)

USER_AUTHOR_TRANSFERS = FeatureView(
    name="user_author_transfers",
    entity="user_author",
    keys=("user_id", "author_id"),
    sources=("transfers",),
    description="Transfers either way between the user and a post's author (all and decayed).",
    stream=_ties,
    aggregate=_pair("transfer", "ua", "author_id", "other_id"),
)

USER_CIRCLE_FRIENDS = FeatureView(
    name="user_circle_friends",
    entity="user_circle",
    keys=("user_id", "circle_id"),
    sources=("social_edges", "memberships"),
    description="Friends who are members of the circle at t.",
    stream=_circle_ties,
    aggregate=_pair("friend_members", "uc", "circle_id", "circle_id", decayed=False),
)

USER_CIRCLE_TRANSFERS = FeatureView(
    name="user_circle_transfers",
    entity="user_circle",
    keys=("user_id", "circle_id"),
    sources=("transfers", "memberships"),
    description=(
        "Transfers with people who were members of the circle at the time: tie strength "
        "to the circle's members (all and decayed)."
    ),
    stream=_circle_ties,
    aggregate=_pair("member_transfers", "uc", "circle_id", "circle_id"),
)
