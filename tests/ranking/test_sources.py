"""Circle candidate sources: all_circles stops at its cap (the others still supply
candidates), and the sources that read per-catalog indexes give what a pass over the
whole tables gives."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from features.contract import ContractData
from features.contract.report import ValidationReport
from features.rows import FeatureRows
from ranking import sources
from ranking.catalog import Catalog
from ranking.components import RankContext
from ranking.pipeline import Pipeline
from ranking.strategy import Strategy
from training.bundle import Bundle
from training.knn import ItemKNN

T = pd.Timestamp("2026-03-01T00:00:00Z")
PAIR = ["user_id", "item_id"]
SOURCE = "ranking.sources"


def world(n_circles: int, n_users: int = 12, seed: int = 0, future: bool = True) -> ContractData:
    """Users in three cities (one without), circles (with `future`, the last one created
    after T), memberships (some left before T), and friend and follow edges."""
    rng = np.random.default_rng(seed)
    users = [f"u{i:02d}" for i in range(n_users)]
    circles = [f"c{i:02d}" for i in range(n_circles)]
    created = [T - pd.Timedelta(days=30)] * n_circles
    if future:
        created[-1] = T + pd.Timedelta(days=1)
    pairs = {(u, c) for u in users for c in rng.choice(circles, 3) if rng.random() < 0.9}
    joined = sorted(pairs)
    left = [T - pd.Timedelta(days=1) if rng.random() < 0.1 else pd.NaT for _ in joined]
    ties = [(users[i], users[j]) for i, j in rng.integers(n_users, size=(2 * n_users, 2)) if i != j]
    tables = {
        "users": pd.DataFrame(
            {
                "user_id": users,
                "registered_at": T - pd.Timedelta(days=60),
                "city": [("Hangzhou", "Shanghai", None)[i % 3] for i in range(n_users)],
            }
        ),
        "circles": pd.DataFrame(
            {
                "circle_id": circles,
                "topic": "pets",
                "created_at": pd.Series(created, dtype="datetime64[us, UTC]"),
                "min_credit_score": np.nan,
            }
        ),
        "memberships": pd.DataFrame(
            {
                "user_id": [u for u, _ in joined],
                "circle_id": [c for _, c in joined],
                "joined_at": T - pd.Timedelta(days=10),
                "left_at": pd.Series(left, dtype="datetime64[us, UTC]"),
            }
        ),
        "social_edges": pd.DataFrame(
            {
                "user_id": [a for a, _ in ties],
                "other_id": [b for _, b in ties],
                "created_at": T - pd.Timedelta(days=5),
                "kind": ["friend" if i % 2 else "follow" for i in range(len(ties))],
            }
        ),
    }
    return ContractData(tables, ValidationReport(as_of=T, quarantine_dir=""))


def context(data: ContractData, bundle: Bundle | None = None) -> RankContext:
    return RankContext("circle_suggestions", Catalog(data, T), features=None, bundle=bundle)


def pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame["user_id"].astype(str), frame["item_id"].astype(str), strict=True))


@pytest.fixture(autouse=True)
def _untold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_told_capped", False)


def test_all_circles_up_to_the_cap_then_none_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    ctx = context(world(n_circles=6))  # 5 circles exist at T
    users = np.array(["u00", "u01"], dtype=object)
    live = [f"c{i:02d}" for i in range(5)]

    at_cap = sources.EligibleCircles(sources.UpTo(up_to=5)).fetch(ctx, users)
    assert pairs(at_cap) == [(u, c) for u in users for c in live]

    above = sources.EligibleCircles(sources.UpTo(up_to=4))
    with caplog.at_level(logging.INFO, logger=SOURCE):
        assert above.fetch(ctx, users).empty
        assert above.fetch(ctx, users[:1]).empty
    told = [r for r in caplog.records if r.name == SOURCE]
    assert len(told) == 1 and told[0].levelno == logging.INFO
    assert "5 circles" in told[0].getMessage() and "up_to of 4" in told[0].getMessage()


def test_the_default_cap_and_params_from_a_strategy() -> None:
    assert sources.EligibleCircles().params.up_to == sources.ELIGIBLE_UP_TO

    def strategy(params: dict[str, int]) -> Strategy:
        return Strategy(
            name="s",
            surface="circle_suggestions",
            sources=("all_circles",),
            scorer="popularity",
            params={"all_circles": params},
        )

    (built,) = strategy({"up_to": 3}).build("sources")
    assert built.params.up_to == 3
    for bad in ({"up_to": 0}, {"k": 3}):
        with pytest.raises(ValueError, match="params of all_circles"):
            strategy(bad)


def test_above_the_cap_the_other_sources_still_rank() -> None:
    data = world(n_circles=30)
    strategy = Strategy(
        name="s",
        surface="circle_suggestions",
        sources=("popular_circles", "all_circles"),
        filters=("live_circle", "not_member"),
        scorer="popularity",
        params={"popular_circles": {"k": 4}, "all_circles": {"up_to": 10}},
    )
    result = Pipeline(strategy).run(context(data), np.array(["u00", "u03"], dtype=object), 10)
    assert result.candidates["all_circles"] == 0
    assert result.candidates["popular_circles"] == 8
    assert set(result.ranked["user_id"]) == {"u00", "u03"}


@pytest.mark.parametrize("asked", [["u00"], ["u04", "u01", "u02"], ["u05", "nobody", "u05"]])
@pytest.mark.parametrize("seed", [0, 1])
def test_sources_give_what_a_pass_over_the_tables_gives(asked: list[str], seed: int) -> None:
    data = world(n_circles=15, n_users=20, seed=seed)
    ctx = context(data)
    catalog = ctx.catalog
    users = np.array(asked, dtype=object)

    ties = catalog.social.table[catalog.social.table["user_id"].isin(users)]
    members = catalog.memberships.table.rename(columns={"user_id": "other_id"})
    found = ties.merge(members, on="other_id").rename(columns={"circle_id": "item_id"})
    got = sources.FriendsCircles().fetch(ctx, users)
    assert pairs(got) == pairs(found[PAIR].drop_duplicates())
    counted = found.groupby(PAIR, sort=False).size().rename("friends").reset_index()
    got = sources.FriendsCircles(sources.AtMost(k=2)).fetch(ctx, users)
    assert pairs(got) == pairs(sources._top_per_user(counted, "friends", 2))

    city = catalog.cities
    local = catalog.memberships.table.assign(city=lambda m: m["user_id"].map(city))
    local = local.groupby(["city", "circle_id"]).size().rename("local").reset_index()
    ask = pd.DataFrame({"user_id": users, "city": pd.Series(users).map(city).to_numpy()})
    found = ask.merge(local, on="city").rename(columns={"circle_id": "item_id"})
    got = sources.CityCircles(sources.TopK(k=3)).fetch(ctx, users)
    assert pairs(got) == pairs(sources._top_per_user(found, "local", 3))

    ids = catalog.circles["circle_id"]
    joins = ids.map(catalog.memberships.decayed_joins).fillna(0.0).to_numpy()
    top = ids.to_numpy()[np.argsort(-joins, kind="stable")[:4]]
    got = sources.PopularCircles(sources.TopK(k=4)).fetch(ctx, users)
    assert pairs(got) == [(u, c) for u in users for c in top]


@pytest.mark.parametrize("future", [True, False])
def test_model_circles_leave_out_own_and_future_circles(future: bool) -> None:
    """A model's recommendations without the user's own circles and, when a circle is
    created after as_of (the model knows it: it has members), without that one: as
    with the whole membership table and the set of live circles."""
    data = world(n_circles=15, n_users=20, future=future)
    m = data["memberships"]
    model = ItemKNN().fit(pd.DataFrame({"user_id": m["user_id"], "item_id": m["circle_id"]}))
    bundle = Bundle(manifest={"version": "test"})
    bundle.add_item_models("circle_suggestions", {"knn": model})
    ctx = context(data, bundle)
    assert ctx.catalog.every_circle_live != future
    for asked in (["u00"], ["u04", "u01", "nobody"]):
        users = np.array(asked, dtype=object)
        expected = model.recommend(
            users,
            15,
            exclude=ctx.catalog.memberships.table.set_axis(PAIR, axis=1),
            allowed=set(ctx.catalog.circles["circle_id"]),
        )
        got = sources.KNNCircles(sources.TopK(k=15)).fetch(ctx, users)
        assert pairs(got) == pairs(expected) and len(got)


@pytest.mark.parametrize("has_match", [True, False])
def test_interest_circles_among_the_most_joined_above_the_cap(has_match: bool) -> None:
    """interest_circles ranks every circle of a small catalog, the `up_to` most joined
    ones of a larger one; without interest_match (no payment categories) one feature row
    says so and nothing is built for the rest."""
    data = world(n_circles=12, n_users=20)
    asked: list[int] = []

    def features(rows: pd.DataFrame, surface: str) -> FeatureRows:
        asked.append(len(rows))
        match = [int(c[1:]) % 7 for c in rows["item_id"]]  # c06, c13... match best
        names = ["interest_match"] if has_match else ["other"]
        return FeatureRows(rows, np.array(match, dtype=np.float64)[:, None], pd.Index(names))

    catalog = Catalog(data, T)
    ctx = RankContext("circle_suggestions", catalog, features=features, bundle=None)
    users = np.array(["u00", "u01"], dtype=object)
    for up_to, pool in ((11, catalog.circle_ids), (5, catalog.circles_by_joins[:5])):
        asked.clear()
        params = sources.InterestParams(k=3, up_to=up_to)
        got = sources.InterestCircles(params).fetch(ctx, users)
        if not has_match:
            assert got.empty and asked == [1]
            continue
        assert asked == [1, len(users) * len(pool)]
        best = sorted(pool, key=lambda c: (-(int(c[1:]) % 7), c))[:3]
        assert pairs(got) == [(u, c) for u in users for c in best]
