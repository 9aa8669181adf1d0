"""What each user did before `as_of`: the items they saw, hid, reported, dismissed or
skipped, and the circles they left. Filters and re-rankers read it; only rows strictly
before `as_of` count, as everywhere in ranking.

Each answer is a mapping user -> set of ids, built once per question (the catalog
lives as long as its snapshot) and read per candidate row in O(1).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, cached_property
from typing import Any

import numpy as np
import pandas as pd

from circlerank.arrays import rows_by, user_codes
from features.contract import ContractData
from features.pit import TS, epoch_us

PerUser = dict[str, frozenset[str]]
POSITIVE = ("click", "like", "comment", "share", "join")
NOTHING: frozenset[str] = frozenset()


def contains(
    per_user: PerUser, users: Iterable[Any], ids: Iterable[Any], codes: np.ndarray | None = None
) -> np.ndarray:
    """For each (user, id) row: whether the id is in the user's set. Rows of users
    without a set (most, for most questions) are not looked at. `codes`: the users as
    integer codes, when the caller has them."""
    user, item = _objects(users), _objects(ids)
    found = np.zeros(len(user), dtype=bool)
    if not per_user or len(user) == 0:
        return found
    for rows in rows_by(user_codes(user) if codes is None else codes):
        mine = per_user.get(user[rows[0]], NOTHING)
        if mine:
            found[rows] = np.fromiter((i in mine for i in item[rows].tolist()), bool, len(rows))
    return found


def _objects(values: Iterable[Any]) -> np.ndarray:
    if isinstance(values, pd.Series | pd.Index | np.ndarray):
        return np.asarray(values, dtype=object)
    return np.asarray(list(values), dtype=object)


def _per_user(users: pd.Series, ids: pd.Series) -> PerUser:
    if len(users) == 0:
        return {}
    grouped = pd.Series(ids.to_numpy(dtype=object)).groupby(users.to_numpy(dtype=object))
    return {u: frozenset(v) for u, v in grouped.agg(list).items()}


class History:
    """Per-user history at one instant, from the contract's events and memberships."""

    def __init__(self, data: ContractData, as_of: pd.Timestamp) -> None:
        self.data = data
        self.as_of = as_of

    @cache  # noqa: B019 - one History per catalog, which lives as long as its snapshot
    def events(self, surface: str, actions: tuple[str, ...], days: float | None) -> pd.DataFrame:
        """user_id, item_id, ts of a surface's events with these actions before as_of,
        within the last `days` (None: all time)."""
        if not self.data.has("events"):
            return pd.DataFrame(columns=["user_id", "item_id", "ts"])
        e = self.data["events"]
        ts = e["ts"].astype(TS)
        keep = (e["surface"] == surface) & e["action"].isin(actions) & (ts < self.as_of)
        if days is not None:
            keep &= ts >= self.as_of - pd.Timedelta(days=days)
        return e.loc[keep.to_numpy(dtype=bool), ["user_id", "item_id", "ts"]]

    @cache  # noqa: B019
    def items(self, surface: str, actions: tuple[str, ...], days: float | None = None) -> PerUser:
        """user -> the items of a surface the user acted on with one of `actions`."""
        e = self.events(surface, actions, days)
        return _per_user(e["user_id"], e["item_id"])

    @cached_property
    def _authors(self) -> pd.Series:
        """author_id by post_id, of every post."""
        return self.data["posts"].set_index("post_id")["author_id"]

    @cache  # noqa: B019
    def hidden_authors(self, min_hides: int) -> PerUser:
        """user -> authors of at least `min_hides` posts the user hid or reported."""
        e = self.events("feed", ("hide", "report"), None)
        if not self.data.has("posts") or e.empty:
            return {}
        author = e["item_id"].map(self._authors)
        pairs = pd.DataFrame({"user_id": e["user_id"].to_numpy(), "author_id": author.to_numpy()})
        counts = pairs.dropna().groupby(["user_id", "author_id"]).size()
        often = counts[counts >= min_hides].reset_index()
        return _per_user(often["user_id"], often["author_id"])

    @cache  # noqa: B019
    def left_circles(self) -> PerUser:
        """user -> circles the user left before as_of and is not a member of again."""
        m = self.data["memberships"]
        joined = m["joined_at"].astype(TS) < self.as_of
        left = (m["left_at"].astype(TS) < self.as_of).to_numpy(dtype=bool, na_value=False)
        active = joined.to_numpy(dtype=bool) & ~left
        gone = m.loc[left, ["user_id", "circle_id"]]
        still = pd.MultiIndex.from_frame(m.loc[active, ["user_id", "circle_id"]])
        gone = gone[~pd.MultiIndex.from_frame(gone).isin(still)]
        return _per_user(gone["user_id"], gone["circle_id"])

    @cache  # noqa: B019
    def skips(self, surface: str, days: float) -> pd.DataFrame:
        """user_id, item_id, ts of impressions in the last `days` the user did not act on
        positively (no click, like, comment, share or join of that item after it)."""
        shown = self.events(surface, ("impression",), days)
        acted = self.events(surface, POSITIVE, days)
        if shown.empty:
            return shown
        acted_us = pd.Series(epoch_us(acted["ts"]), index=acted.index)
        last_act = acted_us.groupby([acted["user_id"], acted["item_id"]]).max()
        key = pd.MultiIndex.from_frame(shown[["user_id", "item_id"]])
        after = last_act.reindex(key).to_numpy(dtype=np.float64)
        acted_after = after >= epoch_us(shown["ts"])  # NaN (never acted) compares False
        return shown[~acted_after]

    @cache  # noqa: B019
    def skip_counts(self, surface: str, days: float) -> dict[str, dict[str, int]]:
        """user -> {author (feed) or circle (suggestions) -> skips in the last `days`}."""
        skipped = self.skips(surface, days)
        keys = skipped["item_id"]
        if surface == "feed":
            if not self.data.has("posts"):
                return {}
            keys = keys.map(self._authors)
        pairs = pd.DataFrame(
            {"user_id": skipped["user_id"].to_numpy(dtype=object), "key": keys.to_numpy(object)}
        ).dropna()
        counts = pairs.groupby(["user_id", "key"]).size()
        out: dict[str, dict[str, int]] = {}
        for (user, key), n in counts.items():
            out.setdefault(user, {})[key] = int(n)
        return out
