"""Keyed event streams derived from contract tables: the inputs of every feature view.

A stream has key columns, a `ts` column and float value columns; each row is a fact
that becomes known at `ts` (a payment, an impression, a friend joining a circle).
Facts that end (memberships, follows) appear twice: +1 when they start, -1 when they
end, so a sum before t is the state at t.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import FeatureConfig
from .contract import ContractData
from .pit import TS, epoch_us

FEED_ACTIONS = ("impression", "click", "like", "comment", "share", "hide", "report")
SUGGESTION_ACTIONS = ("impression", "join", "dismiss")


@dataclass(frozen=True)
class Vocabulary:
    """The value sets that become feature columns; fixed by the data, saved in the schema."""

    categories: tuple[str, ...]
    topics: tuple[str, ...]
    cities: tuple[str, ...]

    @classmethod
    def of(cls, data: ContractData) -> Vocabulary:
        def values(table: str, column: str) -> tuple[str, ...]:
            if not data.has(table):
                return ()
            return tuple(sorted(data[table][column].dropna().unique().tolist()))

        return cls(
            values("merchants", "category"), values("circles", "topic"), values("users", "city")
        )


def _indicators(frame: pd.DataFrame, column: str, values: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        {v: (frame[column] == v).to_numpy(dtype=np.float64) for v in values}, index=frame.index
    )


def home_countries(data: ContractData) -> pd.Series:
    """user_id -> home country: the commonest merchant country of the user's city.

    The contract has no user country; merchants are static, so this leaks no time.
    """
    users = data["users"].set_index("user_id")["city"]
    merchants = data["merchants"].dropna(subset=["city", "country"])
    if merchants.empty:
        return pd.Series(pd.NA, index=users.index, dtype="str")
    by_city = merchants.groupby("city")["country"].agg(lambda s: s.value_counts().index[0])
    fallback = merchants["country"].value_counts().index[0]
    return users.map(by_city).fillna(fallback).astype("str")


def payment_stream(data: ContractData, cfg: FeatureConfig) -> pd.DataFrame:
    """Per payment: its merchant category, amount, overseas and campus amounts, and
    whether it is the user's first payment at that merchant."""
    pay = data["payments"][["user_id", "merchant_id", "amount", "ts", "country"]]
    merchants = data["merchants"].set_index("merchant_id")
    category = pay["merchant_id"].map(merchants["category"]).astype("str")
    paid_in = pay["country"].fillna(pay["merchant_id"].map(merchants["country"]))
    home = pay["user_id"].map(home_countries(data))
    amount = pay["amount"].to_numpy(dtype=np.float64)
    overseas = (paid_in.notna() & (paid_in != home)).to_numpy(dtype=bool)
    campus = category.str.contains(cfg.campus_marker, regex=False).to_numpy(dtype=bool)
    order = np.lexsort((epoch_us(pay["ts"]), pd.factorize(pay["user_id"])[0]))
    first_visit = ~pay.iloc[order].duplicated(["user_id", "merchant_id"]).to_numpy()
    new_merchant = np.empty(len(pay), dtype=np.float64)
    new_merchant[order] = first_visit
    return pd.DataFrame(
        {
            "user_id": pay["user_id"],
            "category": category,
            "ts": pay["ts"],
            "payments": 1.0,
            "spend": amount,
            "overseas_spend": amount * overseas,
            "campus_spend": amount * campus,
            "new_merchant": new_merchant,
        }
    )


def feed_event_stream(data: ContractData) -> pd.DataFrame:
    """Feed events with the post's circle, author and topic, one indicator per action."""
    events = data["events"]
    feed = events[events["surface"] == "feed"]
    posts = data["posts"].set_index("post_id")
    topics = data["circles"].set_index("circle_id")["topic"]
    circle = feed["item_id"].map(posts["circle_id"])
    out = pd.DataFrame(
        {
            "user_id": feed["user_id"],
            "post_id": feed["item_id"],
            "circle_id": circle,
            "author_id": feed["item_id"].map(posts["author_id"]),
            "topic": circle.map(topics),
            "ts": feed["ts"],
        }
    )
    return pd.concat([out, _indicators(feed, "action", FEED_ACTIONS)], axis=1).reset_index(
        drop=True
    )


def suggestion_event_stream(data: ContractData) -> pd.DataFrame:
    events = data["events"]
    sugg = events[events["surface"] == "circle_suggestions"]
    out = pd.DataFrame({"user_id": sugg["user_id"], "circle_id": sugg["item_id"], "ts": sugg["ts"]})
    indicators = _indicators(sugg, "action", SUGGESTION_ACTIONS).add_prefix("sugg_")
    return pd.concat([out, indicators], axis=1).reset_index(drop=True)


def membership_changes(data: ContractData) -> pd.DataFrame:
    """+1 at joined_at and -1 at left_at for every membership, with the member's city."""
    m = data["memberships"]
    left = m[m["left_at"].notna()]
    city = data["users"].set_index("user_id")["city"]
    out = pd.concat(
        [
            pd.DataFrame(
                {
                    "circle_id": m["circle_id"],
                    "user_id": m["user_id"],
                    "ts": m["joined_at"],
                    "members": 1.0,
                }
            ),
            pd.DataFrame(
                {
                    "circle_id": left["circle_id"],
                    "user_id": left["user_id"],
                    "ts": left["left_at"],
                    "members": -1.0,
                }
            ),
        ],
        ignore_index=True,
    )
    out["city"] = out["user_id"].map(city)
    return out


def _friend_pairs(data: ContractData) -> pd.DataFrame:
    """Friend edges in both directions, each unordered pair once (earliest wins)."""
    edges = data["social_edges"]
    friends = edges[edges["kind"].fillna("friend") == "friend"]
    a, b = friends["user_id"].to_numpy(), friends["other_id"].to_numpy()
    lo, hi = np.where(a < b, a, b), np.where(a < b, b, a)
    pairs = pd.DataFrame({"a": lo, "b": hi, "ts": friends["created_at"].to_numpy()})
    pairs = pairs.sort_values("ts", kind="stable").drop_duplicates(["a", "b"])
    return pd.concat(
        [
            pairs.rename(columns={"a": "user_id", "b": "other_id"}),
            pairs.rename(columns={"b": "user_id", "a": "other_id"}),
        ],
        ignore_index=True,
    )


def tie_stream(data: ContractData) -> pd.DataFrame:
    """(user, other) facts: friendship, user follows other, other follows user, and a
    transfer either way."""
    parts = []
    if data.has("social_edges"):
        friends = _friend_pairs(data).assign(friend=1.0)
        edges = data["social_edges"]
        follows = edges[edges["kind"] == "follow"]
        parts += [
            friends,
            pd.DataFrame(
                {
                    "user_id": follows["user_id"],
                    "other_id": follows["other_id"],
                    "ts": follows["created_at"],
                    "follow": 1.0,
                }
            ),
            # the same follow seen from the followed side, so every row is keyed by
            # the user it describes (a partition by user_id holds all of them)
            pd.DataFrame(
                {
                    "user_id": follows["other_id"],
                    "other_id": follows["user_id"],
                    "ts": follows["created_at"],
                    "follower": 1.0,
                }
            ),
        ]
    if data.has("transfers"):
        t = data["transfers"]
        for me, other in (("sender_id", "receiver_id"), ("receiver_id", "sender_id")):
            parts.append(
                pd.DataFrame(
                    {"user_id": t[me], "other_id": t[other], "ts": t["ts"], "transfer": 1.0}
                )
            )
    if not parts:
        return pd.DataFrame({"user_id": [], "other_id": [], "ts": pd.Series([], dtype=TS)})
    out = pd.concat(parts, ignore_index=True)
    value_cols = [c for c in ("friend", "follow", "follower", "transfer") if c in out.columns]
    out[value_cols] = out[value_cols].fillna(0.0)
    return out


def _active(members: pd.DataFrame, at: pd.Series) -> np.ndarray:
    return (
        (members["joined_at"] < at) & (members["left_at"].isna() | (members["left_at"] >= at))
    ).to_numpy(dtype=bool)


def circle_tie_stream(data: ContractData) -> pd.DataFrame:
    """(user, circle) facts: a friend is a member (+1 from when both hold, -1 when the
    membership ends), and a transfer with someone who was a member at that moment."""
    members = data["memberships"][["user_id", "circle_id", "joined_at", "left_at"]]
    parts = []
    if data.has("social_edges"):
        pairs = _friend_pairs(data).merge(
            members, left_on="other_id", right_on="user_id", suffixes=("", "_m")
        )
        start = pairs[["ts", "joined_at"]].max(axis=1)
        live = pairs["left_at"].isna() | (start < pairs["left_at"])
        pairs, start = pairs[live], start[live]
        parts.append(
            pd.DataFrame(
                {
                    "user_id": pairs["user_id"],
                    "circle_id": pairs["circle_id"],
                    "ts": start,
                    "friend_members": 1.0,
                }
            )
        )
        ended = pairs[pairs["left_at"].notna()]
        parts.append(
            pd.DataFrame(
                {
                    "user_id": ended["user_id"],
                    "circle_id": ended["circle_id"],
                    "ts": ended["left_at"],
                    "friend_members": -1.0,
                }
            )
        )
    if data.has("transfers"):
        t = data["transfers"]
        both = pd.concat(
            [
                pd.DataFrame(
                    {"user_id": t["sender_id"], "other_id": t["receiver_id"], "ts": t["ts"]}
                ),
                pd.DataFrame(
                    {"user_id": t["receiver_id"], "other_id": t["sender_id"], "ts": t["ts"]}
                ),
            ],
            ignore_index=True,
        )
        hit = both.merge(members, left_on="other_id", right_on="user_id", suffixes=("", "_m"))
        hit = hit[_active(hit, hit["ts"])]
        parts.append(
            pd.DataFrame(
                {
                    "user_id": hit["user_id"],
                    "circle_id": hit["circle_id"],
                    "ts": hit["ts"],
                    "member_transfers": 1.0,
                }
            )
        )
    if not parts:
        return pd.DataFrame({"user_id": [], "circle_id": [], "ts": pd.Series([], dtype=TS)})
    out = pd.concat(parts, ignore_index=True)
    value_cols = [c for c in ("friend_members", "member_transfers") if c in out.columns]
    out[value_cols] = out[value_cols].fillna(0.0)
    return out


def member_payment_stream(data: ContractData, payments: pd.DataFrame) -> pd.DataFrame:
    """Per circle, day and category: the count and spend of payments members made while
    members."""
    members = data["memberships"][["user_id", "circle_id", "joined_at", "left_at"]]
    columns = ["user_id", "category", "ts", "payments", "spend"]
    hit = payments[columns].merge(members, on="user_id")
    hit = hit[_active(hit, hit["ts"])]
    day = hit["ts"].dt.floor("D").rename("day")
    daily = hit.groupby([hit["circle_id"], hit["category"], day], sort=True)[
        ["payments", "spend"]
    ].sum()
    daily = daily.reset_index()
    # a day's spend becomes known at its last instant, after every payment of the day
    daily["ts"] = daily.pop("day") + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return daily


def post_stream(data: ContractData) -> pd.DataFrame:
    """Per post at its creation: author, circle, member-made flag."""
    posts = data["posts"]
    official = posts["is_official"].fillna(False).to_numpy(dtype=bool)
    return pd.DataFrame(
        {
            "post_id": posts["post_id"],
            "author_id": posts["author_id"],
            "circle_id": posts["circle_id"],
            "ts": posts["created_at"],
            "posts": 1.0,
            "ugc_posts": (~official).astype(np.float64),
        }
    )
