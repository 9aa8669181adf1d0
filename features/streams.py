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
    # one factorization, then integer compares: comparing strings once per value costs
    # a pass over every row's bytes each time
    codes, seen = pd.factorize(frame[column])
    code_of = pd.Index(seen).get_indexer(list(values))
    return pd.DataFrame(
        {
            v: (codes == c).astype(np.float64) if c >= 0 else np.zeros(len(frame))
            for v, c in zip(values, code_of, strict=True)
        },
        index=frame.index,
    )


def positions(ids: pd.Series, table_ids: pd.Series) -> np.ndarray:
    """The row of each id in a table's id column (-1 where absent): hash the ids once and
    take every looked-up column by position, instead of one `Series.map` per column."""
    return pd.Index(table_ids).get_indexer(ids)


def take(column: pd.Series, rows: np.ndarray) -> pd.Series:
    """`column` at `rows` (missing where rows is -1), as a fresh default-indexed Series."""
    return pd.Series(column.array.take(rows, allow_fill=True), name=column.name)


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
    merchants = data["merchants"]
    merchant = positions(pay["merchant_id"], merchants["merchant_id"])
    category = take(merchants["category"], merchant).astype("str")
    paid_in = pay["country"].reset_index(drop=True).fillna(take(merchants["country"], merchant))
    users = data["users"]["user_id"]
    user = positions(pay["user_id"], users)
    home = take(home_countries(data).reindex(users).reset_index(drop=True), user)
    amount = pay["amount"].to_numpy(dtype=np.float64)
    overseas = (paid_in.notna() & (paid_in != home)).to_numpy(dtype=bool)
    is_campus = merchants["category"].str.contains(cfg.campus_marker, regex=False)
    campus = is_campus.fillna(False).to_numpy(dtype=bool)[merchant] & (merchant >= 0)
    # first visit: the first row of each (user, merchant) in time order, on integer pairs
    order = np.lexsort((epoch_us(pay["ts"]), user))
    pair = user.astype(np.int64) * (len(merchants) + 1) + merchant
    first_visit = ~pd.Series(pair[order]).duplicated().to_numpy()
    new_merchant = np.empty(len(pay), dtype=np.float64)
    new_merchant[order] = first_visit
    return pd.DataFrame(
        {
            "user_id": pay["user_id"].array,
            "category": category.array,
            "ts": pay["ts"].array,
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
    feed = events[events["surface"] == "feed"].reset_index(drop=True)
    posts = data["posts"]
    circles = data["circles"]
    post_topic = take(circles["topic"], positions(posts["circle_id"], circles["circle_id"]))
    post = positions(feed["item_id"], posts["post_id"])
    out = pd.DataFrame(
        {
            "user_id": feed["user_id"],
            "post_id": feed["item_id"],
            "circle_id": take(posts["circle_id"], post),
            "author_id": take(posts["author_id"], post),
            "topic": take(post_topic, post),
            "ts": feed["ts"],
        }
    )
    return pd.concat([out, _indicators(feed, "action", FEED_ACTIONS)], axis=1)


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


DAY_US = 86_400_000_000
PAIR_CHUNK = 1 << 18  # payments joined to their payers' memberships at a time (in cache)


def member_payment_stream(data: ContractData, payments: pd.DataFrame) -> pd.DataFrame:
    """Per circle, day and category: the count and spend of payments members made while
    members."""
    members = data["memberships"]
    member_user, users = pd.factorize(members["user_id"])
    by_user = np.argsort(member_user, kind="stable")
    memberships_of = np.bincount(member_user, minlength=len(users))
    first_of = np.cumsum(memberships_of) - memberships_of
    joined = epoch_us(members["joined_at"])
    left_at = members["left_at"]
    never = np.iinfo(np.int64).max
    left = np.where(left_at.isna(), never, epoch_us(left_at.fillna(pd.Timestamp(0, tz="UTC"))))
    circle_code, circle_ids = pd.factorize(members["circle_id"], sort=True)
    payer = pd.Index(users).get_indexer(payments["user_id"])
    category_code, category_ids = pd.factorize(payments["category"], sort=True)
    paid = epoch_us(payments["ts"])
    day = paid // DAY_US
    first_day = int(day.min(initial=0))
    span = int(day.max(initial=0)) - first_day + 1
    values = payments[["payments", "spend"]].to_numpy(dtype=np.float64)
    # group key: (circle, category, day), ordered like the sorted strings
    cell = (day - first_day) + category_code.astype(np.int64) * span
    keys, sums = [np.empty(0, dtype=np.int64)], [np.empty((0, 2))]
    for start in range(0, len(payments), PAIR_CHUNK):
        # every (payment, membership of its payer) pair of a chunk, on integer codes
        who = payer[start : start + PAIR_CHUNK]
        count = np.where(who >= 0, memberships_of[who], 0)
        payment = start + np.repeat(np.arange(len(who)), count)
        offset = np.arange(len(payment)) - np.repeat(np.cumsum(count) - count, count)
        membership = by_user[np.repeat(first_of[who], count) + offset]
        at = paid[payment]
        live = (joined[membership] < at) & (at < left[membership]) & (category_code[payment] >= 0)
        payment, membership = payment[live], membership[live]
        key = circle_code[membership].astype(np.int64) * (len(category_ids) * span) + cell[payment]
        group, distinct = pd.factorize(key)
        keys.append(distinct)
        sums.append(
            np.stack([np.bincount(group, values[payment, j], len(distinct)) for j in (0, 1)], 1)
        )
    group, groups = pd.factorize(np.concatenate(keys))
    partial = np.concatenate(sums)
    total = np.stack([np.bincount(group, partial[:, j], len(groups)) for j in (0, 1)], 1)
    order = np.argsort(groups)
    groups, total = groups[order], total[order]
    circle, rest = np.divmod(groups, len(category_ids) * span)
    category, day_of_group = np.divmod(rest, span)
    # a day's spend becomes known at its last instant, after every payment of the day
    ends = (day_of_group + first_day + 1) * DAY_US - 1
    return pd.DataFrame(
        {
            "circle_id": pd.array(np.asarray(circle_ids)[circle], dtype="str"),
            "category": pd.array(np.asarray(category_ids)[category], dtype="str"),
            "payments": total[:, 0],
            "spend": total[:, 1],
            "ts": pd.to_datetime(ends, unit="us", utc=True).astype(TS),
        }
    )


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
