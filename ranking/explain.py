"""Why an item was shown: reason codes and a short text from coarse signals only.

Explanations may say how many friends are members or engaged, that a circle is popular
in the user's city, that people who shop in a merchant *category* like it, or that an
item is new or popular. They never carry an amount, a merchant, a transfer (transfer
partners never count as friends here) or a credit score: everything below is built
from friend edges, counts, city names, category names, circle names and dates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from features.pit import TS

from .catalog import Catalog

POSITIVE = ("click", "like", "comment", "share")
NEW_DAYS = 14.0  # a circle or creator this young is "new"
CATEGORY_DAYS = 90.0  # the user's shopping categories: payments of this many days
MIN_CITY_MEMBERS = 3  # "popular in <city>" needs at least this many members from there
MIN_LIFT = 1.5  # members shop in a category this many times more than everyone


@dataclass(frozen=True)
class Explained:
    codes: list[str]
    text: str


def _category_phrase(category: str) -> str:
    return category.replace("_", " ")


class Explainer:
    """Explanations for ranked items of one catalog (one instant)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.data = catalog.data

    @cached_property
    def friends(self) -> dict[str, frozenset[str]]:
        """user -> friends (mutual `friend` edges only: no follows, no transfers)."""
        if not self.data.has("social_edges"):
            return {}
        s = self.data["social_edges"]
        s = s[(s["kind"] == "friend") & (s["created_at"].astype(TS) < self.catalog.as_of)]
        a, b = s["user_id"].to_numpy(dtype=object), s["other_id"].to_numpy(dtype=object)
        pairs = pd.DataFrame({"user": np.r_[a, b], "friend": np.r_[b, a]})
        return {u: frozenset(g) for u, g in pairs.groupby("user")["friend"]}

    @cached_property
    def engaged(self) -> dict[str, frozenset[str]]:
        """post -> users who engaged with it positively before as_of."""
        e = self.catalog.history.events("feed", POSITIVE, None)
        return {p: frozenset(g) for p, g in e.groupby("item_id")["user_id"]}

    @cached_property
    def members(self) -> dict[str, frozenset[str]]:
        """circle -> members at as_of."""
        m = self.catalog.memberships.table
        return {c: frozenset(g) for c, g in m.groupby("circle_id")["user_id"]}

    @cached_property
    def members_by_city(self) -> dict[tuple[str, str], int]:
        """(circle, city) -> members of the circle from that city."""
        m = self.catalog.memberships.table
        city = m["user_id"].map(self.cities)
        counts = pd.DataFrame({"circle": m["circle_id"], "city": city}).dropna().value_counts()
        return {(c, t): int(n) for (c, t), n in counts.items()}

    @cached_property
    def cities(self) -> dict[str, str]:
        users = self.data["users"]
        if "city" not in users:
            return {}
        known = users.dropna(subset=["city"])
        return dict(zip(known["user_id"], known["city"], strict=True))

    @cached_property
    def _categories(self) -> pd.DataFrame:
        """user_id, category of payments in the last CATEGORY_DAYS before as_of."""
        if not (self.data.has("payments") and self.data.has("merchants")):
            return pd.DataFrame(columns=["user_id", "category"])
        p = self.data["payments"]
        ts = p["ts"].astype(TS)
        as_of = self.catalog.as_of
        recent = p[(ts < as_of) & (ts >= as_of - pd.Timedelta(days=CATEGORY_DAYS))]
        category = recent["merchant_id"].map(
            self.data["merchants"].set_index("merchant_id")["category"]
        )
        return pd.DataFrame({"user_id": recent["user_id"], "category": category}).dropna()

    @cached_property
    def shops_in(self) -> dict[str, frozenset[str]]:
        """user -> merchant categories the user paid in lately."""
        c = self._categories.drop_duplicates()
        return {u: frozenset(g) for u, g in c.groupby("user_id")["category"]}

    @cached_property
    def circle_category(self) -> dict[str, str]:
        """circle -> the category its members shop in most above everyone (lift >=
        MIN_LIFT), by share of members who shop there."""
        shoppers = self._categories.drop_duplicates()
        everyone = shoppers["user_id"].nunique()
        if everyone == 0:
            return {}
        base = shoppers["category"].value_counts() / everyone
        m = self.catalog.memberships.table.rename(columns={"circle_id": "circle"})
        counts = m.merge(shoppers, on="user_id").groupby(["circle", "category"]).size()
        size = m.groupby("circle").size()
        share = counts / size.reindex(counts.index.get_level_values("circle")).to_numpy()
        lift = share / base.reindex(counts.index.get_level_values("category")).to_numpy()
        best = lift[lift >= MIN_LIFT].sort_values(ascending=False)
        out: dict[str, str] = {}
        for (circle, category), _ in best.items():
            out.setdefault(circle, category)
        return out

    def explain(
        self,
        surface: str,
        ranked: pd.DataFrame | Mapping[str, np.ndarray],
        sources: Callable[[int], list[str]],
    ) -> list[Explained]:
        """One explanation per ranked row (user_id, item_id, sources bit mask), from a
        frame or from its columns as arrays."""
        rows = zip(
            ranked["user_id"].tolist(),
            ranked["item_id"].tolist(),
            ranked["sources"].tolist(),
            strict=True,
        )
        explain = self._post if surface == "feed" else self._circle
        return [explain(u, i, sources(int(s))) for u, i, s in rows]

    @cached_property
    def _names(self) -> dict[str, str]:
        """circle -> its name (plain dicts: a page asks about 20 items one by one)."""
        circles = self.catalog.item_index.table("circle_suggestions")
        if "name" not in circles:
            return {}
        return {c: str(n) for c, n in zip(circles.index, circles["name"], strict=True)}

    @cached_property
    def _posts(self) -> dict[str, tuple[str, str]]:
        """post -> (author, circle), of the live posts."""
        items = self.catalog.item_index.table("feed")
        pairs = zip(items["author_id"].tolist(), items["circle_id"].tolist(), strict=True)
        return dict(zip(items.index.tolist(), pairs, strict=True))

    @cached_property
    def _new_circles(self) -> frozenset[str]:
        circles = self.catalog.item_index.table("circle_suggestions")
        created = circles["created_at"].astype(TS)
        recent = created >= self.catalog.as_of - pd.Timedelta(days=NEW_DAYS)
        return frozenset(circles.index[recent.to_numpy(dtype=bool, na_value=False)])

    def _circle_name(self, circle: object) -> str:
        return self._names.get(circle, "your circle")  # type: ignore[call-overload]

    def _post(self, user: str, post: str, found_by: list[str]) -> Explained:
        facts = self._posts.get(post)
        if facts is None:
            return Explained(["popular"], "Popular right now")
        author, circle = facts
        mine = self.friends.get(user, frozenset())
        codes, texts = [], []
        engaged = len(mine & self.engaged.get(post, frozenset()))
        if engaged:
            codes.append("friends_engaged")
            texts.append(f"{engaged} friend{'s' if engaged > 1 else ''} engaged with this")
        if author in mine:
            codes.append("friend_author")
            texts.append("From a friend")
        if author in self.catalog.feed.new_creators(NEW_DAYS):
            codes.append("new_creator")
            texts.append("From a new creator")
        if "trending_posts" in found_by:
            codes.append("trending_in_circle")
            texts.append(f"Popular in {self._circle_name(circle)}")
        if not codes:
            codes.append("new_in_circle")
            texts.append(f"New in {self._circle_name(circle)}")
        return Explained(codes, "; ".join(texts))

    def _circle(self, user: str, circle: str, found_by: list[str]) -> Explained:
        members = self.members.get(circle, frozenset())
        codes, texts = [], []
        friends = len(self.friends.get(user, frozenset()) & members)
        if friends:
            codes.append("friends_members")
            texts.append(f"{friends} friend{'s are members' if friends > 1 else ' is a member'}")
        city = self.cities.get(user)
        if city is not None:
            local = self.members_by_city.get((circle, city), 0)
            if local >= MIN_CITY_MEMBERS:
                codes.append("popular_in_city")
                texts.append(f"Popular in {city}")
        category = self.circle_category.get(circle)
        if category is not None and category in self.shops_in.get(user, frozenset()):
            codes.append("shopping_interest")
            texts.append(f"People who shop at {_category_phrase(category)} places like this circle")
        if circle in self._new_circles:
            codes.append("new_circle")
            texts.append("A new circle")
        if not codes:
            codes.append("popular")
            texts.append("Popular right now")
        return Explained(codes, "; ".join(texts))
