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

from .codes import positions, take
from .config import FeatureConfig
from .contract import ContractData
from .pit import TS, epoch_us

FEED_ACTIONS = ("impression", "click", "like", "comment", "share", "hide", "report")
SUGGESTION_ACTIONS = ("impression", "join", "dismiss")
DAY_US = 86_400_000_000
PAIR_CHUNK = 1 << 18  # rows of a pair join or dedup handled at a time: they stay in cache


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
    merchant = positions(pay["merchant_id"], pd.Index(merchants["merchant_id"]))
    category = take(merchants["category"], merchant).astype("str")
    paid_in = pay["country"].reset_index(drop=True).fillna(take(merchants["country"], merchant))
    users = data["users"]["user_id"]
    user = positions(pay["user_id"], pd.Index(users))
    home = take(home_countries(data).reindex(users).reset_index(drop=True), user)
    amount = pay["amount"].to_numpy(dtype=np.float64)
    overseas = (paid_in.notna() & (paid_in != home)).to_numpy(dtype=bool)
    is_campus = merchants["category"].str.contains(cfg.campus_marker, regex=False)
    campus = is_campus.fillna(False).to_numpy(dtype=bool)[merchant] & (merchant >= 0)
    # first visit: the first row of each (user, merchant) in time order, on integer pairs,
    # deduplicated in runs of whole users small enough for the hash table to stay in cache
    order = np.lexsort((epoch_us(pay["ts"]), user))
    pair = (user.astype(np.int64) * (len(merchants) + 1) + merchant)[order]
    by_user = user[order]
    cuts = np.searchsorted(by_user, by_user[np.arange(PAIR_CHUNK, len(pay), PAIR_CHUNK)])
    first_visit = np.concatenate(
        [~pd.Series(run).duplicated().to_numpy() for run in np.split(pair, cuts)]
    )
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


def _surface_events(data: ContractData, surface: str) -> pd.DataFrame:
    """The events of one surface, with just the columns streams read (filtering every
    column would copy ids no feature uses)."""
    events = data["events"]
    wanted = events["surface"] == surface
    return events[["user_id", "item_id", "ts", "action"]][wanted].reset_index(drop=True)


def feed_event_stream(data: ContractData) -> pd.DataFrame:
    """Feed events with the post's circle, author and topic, one indicator per action."""
    feed = _surface_events(data, "feed")
    posts = data["posts"]
    circles = data["circles"]
    post_topic = take(
        circles["topic"], positions(posts["circle_id"], pd.Index(circles["circle_id"]))
    )
    post = positions(feed["item_id"], pd.Index(posts["post_id"]))
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
    sugg = _surface_events(data, "circle_suggestions")
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


class _Memberships:
    """Memberships grouped by user, to join rows to their user's memberships on integer
    codes (a string merge would hash every row's id again, out of cache)."""

    def __init__(self, members: pd.DataFrame) -> None:
        user, users = pd.factorize(members["user_id"])
        self.users = pd.Index(users)
        self.by_user = np.argsort(user, kind="stable")
        self.count = np.bincount(user, minlength=len(users))
        self.first = np.cumsum(self.count) - self.count
        self.circle_id = members["circle_id"]
        self.joined = epoch_us(members["joined_at"])
        left = members["left_at"]
        never = np.iinfo(np.int64).max
        self.left = np.where(left.isna(), never, epoch_us(left.fillna(pd.Timestamp(0, tz="UTC"))))
        self.ended = left.notna().to_numpy()

    def code(self, ids: pd.Series) -> np.ndarray:
        """Each id's user code, -1 for users without memberships."""
        return positions(ids, self.users)

    def of(self, who: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, membership) for every membership of each row's user."""
        count = np.where(who >= 0, self.count[who], 0)
        row = np.repeat(np.arange(len(who)), count)
        offset = np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
        return row, self.by_user[np.repeat(self.first[who], count) + offset]

    def active(self, membership: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Whether each membership holds at `at` (int64 us): joined before, left at or after."""
        return (self.joined[membership] < at) & (at <= self.left[membership])


def _ts(us: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(us, unit="us", utc=True)).astype(TS)


def circle_tie_stream(data: ContractData) -> pd.DataFrame:
    """(user, circle) facts: a friend is a member (+1 from when both hold, -1 when the
    membership ends), and a transfer with someone who was a member at that moment."""
    members = _Memberships(data["memberships"])
    parts = []
    if data.has("social_edges"):
        friends = _friend_pairs(data).reset_index(drop=True)
        row, membership = members.of(members.code(friends["other_id"]))
        start = np.maximum(epoch_us(friends["ts"])[row], members.joined[membership])
        live = start < members.left[membership]
        row, membership, start = row[live], membership[live], start[live]
        user = take(friends["user_id"], row)
        circle = take(members.circle_id, membership)
        parts.append(
            pd.DataFrame(
                {"user_id": user, "circle_id": circle, "ts": _ts(start), "friend_members": 1.0}
            )
        )
        ended = members.ended[membership]
        parts.append(
            pd.DataFrame(
                {
                    "user_id": user[ended].reset_index(drop=True),
                    "circle_id": circle[ended].reset_index(drop=True),
                    "ts": _ts(members.left[membership][ended]),
                    "friend_members": -1.0,
                }
            )
        )
    if data.has("transfers"):
        t = data["transfers"]
        me = pd.concat([t["sender_id"], t["receiver_id"]], ignore_index=True)
        other = pd.concat([t["receiver_id"], t["sender_id"]], ignore_index=True)
        when = np.concatenate([epoch_us(t["ts"])] * 2)
        row, membership = members.of(members.code(other))
        live = members.active(membership, when[row])
        row, membership = row[live], membership[live]
        parts.append(
            pd.DataFrame(
                {
                    "user_id": take(me, row),
                    "circle_id": take(members.circle_id, membership),
                    "ts": _ts(when[row]),
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
    members = _Memberships(data["memberships"])
    circle_code, circle_ids = pd.factorize(members.circle_id, sort=True)
    payer = members.code(payments["user_id"])
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
        # every (payment, membership of its payer) pair of a chunk
        row, membership = members.of(payer[start : start + PAIR_CHUNK])
        payment = start + row
        live = members.active(membership, paid[payment]) & (category_code[payment] >= 0)
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
            "ts": _ts(ends),
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
