"""What the world looked like at one instant: the state candidate sources and filters
read. Only rows strictly before `as_of` count, so offline replay at TS sees what a live
request at TS would have seen."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.codes import positions
from features.contract import ContractData

from .feed_index import FeedIndex
from .history import History
from .instant import before
from .item_index import ItemIndex
from .memberships import Memberships
from .social import SocialTies

if TYPE_CHECKING:
    from .explain import Explainer


def lookup(values: pd.Series, ids: pd.Series) -> pd.Series:
    """`ids.map(values)` for a uniquely indexed `values`, by position: a map of object
    ids onto a str index converts the whole index on every call."""
    rows = positions(ids, values.index)
    return pd.Series(values.array.take(rows, allow_fill=True), index=ids.index)


# the feed's freshness window unless strategies.toml sets `freshness_days`
FRESHNESS_DAYS = 7.0


@dataclass
class Catalog:
    """The world in force at `as_of`, as views: `memberships`, `social` (ties), `feed`
    (fresh posts, in-network pairs, deleted posts, new creators), `item_index` (each
    surface's live items by row), plus the live circles, credit scores, cities, what
    each user did (`history`) and the explainer."""

    data: ContractData
    as_of: pd.Timestamp
    freshness: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(days=FRESHNESS_DAYS))
    half_life: pd.Timedelta = field(default_factory=lambda: pd.Timedelta(days=1))

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
    def feed(self) -> FeedIndex:
        """The feed's fresh posts and what the feed reads of posts at as_of."""
        return FeedIndex(self)

    @cached_property
    def item_index(self) -> ItemIndex:
        """The live items of each surface by row (fresh posts, live circles)."""
        return ItemIndex(self.feed.posts, self.circles, lambda: self.memberships.decayed_joins)

    @cached_property
    def explainer(self) -> Explainer:
        """Explanations of items ranked from this catalog."""
        from .explain import Explainer

        return Explainer(self)

    @cached_property
    def history(self) -> History:
        """What each user saw, hid, dismissed, skipped or left before as_of."""
        return History(self.data, self.as_of)
