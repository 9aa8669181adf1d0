"""Each filter's kept and removed rows, with reason codes, on hand-built cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract import ContractData
from ranking.catalog import Catalog
from ranking.components import RankContext
from ranking.filters import FILTERS
from ranking.history import contains
from ranking.item_index import ROW
from ranking.pipeline import Pipeline
from ranking.strategy import Strategy, component_class

from .policy_world import AS_OF_DAY, POSTS, day, load


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> ContractData:
    return load(tmp_path_factory.mktemp("policy"))


def context(data: ContractData, surface: str) -> RankContext:
    return RankContext(
        surface=surface, catalog=Catalog(data, day(AS_OF_DAY)), features=None, bundle=None
    )


def removed_by(data: ContractData, name: str, surface: str, items: list[str]) -> set[str]:
    cls = component_class("filters", name, surface)
    candidates = pd.DataFrame(
        {"user_id": pd.Series(["u1"] * len(items), dtype=object), "item_id": items}
    )
    keep = cls().keep(context(data, surface), candidates)
    assert keep.dtype == bool and len(keep) == len(items)
    return {item for item, kept in zip(items, keep, strict=True) if not kept}


@pytest.mark.parametrize(
    ("name", "removed"),
    [
        ("already_seen", {"p_seen", "p_hidden"}),  # p_seen_5d was seen 5 days ago
        ("hidden", {"p_hidden", "p_h1", "p_h2"}),
        ("hidden_author", {"p_h1", "p_h2", "p_u4"}),
        ("deleted_post", {"p_deleted"}),
        ("left_circle", {"p_left"}),
        ("live_post", {"p_own", "p_stale", "p_deleted"}),  # not in the catalog's fresh posts
    ],
)
def test_feed_filters_remove_exactly_their_cases(
    world: ContractData, name: str, removed: set[str]
) -> None:
    assert removed_by(world, name, "feed", list(POSTS)) == removed


@pytest.mark.parametrize("name", ["deleted_post", "live_post", "left_circle", "hidden_author"])
def test_feed_filters_read_live_items_by_row_alike(world: ContractData, name: str) -> None:
    """The pipeline hands filters each candidate's catalog row (ROW, -1 when not live):
    the same rows are removed as when the filter looks the ids up itself."""
    ctx = context(world, "feed")
    items = list(POSTS)
    candidates = pd.DataFrame({"user_id": pd.Series(["u1"] * len(items), dtype=object)})
    candidates["item_id"] = pd.Series(items, dtype=object)
    with_rows = candidates.assign(
        **{ROW: ctx.catalog.item_index.rows("feed", candidates["item_id"])}
    )
    assert (with_rows[ROW] >= 0).any() and (with_rows[ROW] < 0).any()
    keep = component_class("filters", name, "feed")().keep
    np.testing.assert_array_equal(keep(ctx, with_rows), keep(ctx, candidates))


@pytest.mark.parametrize(
    ("name", "removed"),
    [
        ("dismissed_circle", {"c3"}),  # c4 was dismissed 50 days ago
        ("credit_gate", {"c3"}),
        ("not_member", {"c1"}),  # u1 left c2: it may be suggested again
        ("live_circle", {"c_unknown"}),
    ],
)
def test_suggestion_filters_remove_exactly_their_cases(
    world: ContractData, name: str, removed: set[str]
) -> None:
    items = ["c1", "c2", "c3", "c4", "c_unknown"]
    assert removed_by(world, name, "circle_suggestions", items) == removed


@pytest.mark.parametrize("name", ["live_circle", "credit_gate"])
def test_suggestion_filters_read_live_circles_by_row_alike(world: ContractData, name: str) -> None:
    """As the feed's: a circle's ROW (-1 when it does not exist at as_of) answers as
    its id does."""
    ctx = context(world, "circle_suggestions")
    items = pd.Series(["c1", "c2", "c3", "c4", "c_unknown"], dtype=object)
    candidates = pd.DataFrame({"user_id": pd.Series(["u1"] * len(items), dtype=object)})
    candidates["item_id"] = items
    with_rows = candidates.assign(**{ROW: ctx.catalog.item_index.rows("circle_suggestions", items)})
    assert (with_rows[ROW] >= 0).any() and (with_rows[ROW] < 0).any()
    keep = component_class("filters", name, "circle_suggestions")().keep
    np.testing.assert_array_equal(keep(ctx, with_rows), keep(ctx, candidates))


def test_every_filter_has_a_distinct_reason_code() -> None:
    reasons = [f.reason for f in FILTERS]
    assert len(set(reasons)) == len(reasons)


def test_pipeline_reports_removals_per_reason(world: ContractData) -> None:
    strategy = Strategy(
        name="policy",
        surface="feed",
        sources=("circle_posts",),
        filters=("deleted_post", "left_circle", "hidden", "hidden_author", "already_seen"),
        scorer="chronological",
    )
    result = Pipeline(strategy).run(context(world, "feed"), np.array(["u1"], dtype=object), 20)

    # circle_posts gives the fresh, live posts of u1's circles (c1) not by u1
    assert result.candidates["circle_posts"] == 8
    assert dict(result.removed) == {
        "deleted": 0,
        "left_circle": 0,
        "hidden_or_reported": 3,
        "author_hidden": 1,
        "seen": 1,
    }
    assert set(result.ranked["item_id"]) == {"p_ok", "p_seen_5d", "p_official"}


def test_a_window_is_a_strategy_parameter(world: ContractData) -> None:
    cls = component_class("filters", "already_seen", "feed")
    candidates = pd.DataFrame({"user_id": ["u1", "u1"], "item_id": ["p_seen", "p_seen_5d"]})
    week = cls(cls.Params(days=7)).keep(context(world, "feed"), candidates)
    assert week.tolist() == [False, False]


def test_contains_reads_each_users_own_set() -> None:
    per_user = {"a": frozenset({"x", "y"}), "b": frozenset({"z"})}
    users = ["a", "b", "c", "a", "b", "a"]
    ids = ["x", "x", "x", "z", "z", "y"]
    assert contains(per_user, users, ids).tolist() == [True, False, False, False, True, True]
    assert contains({}, users, ids).tolist() == [False] * 6
    assert contains(per_user, [], []).tolist() == []
    # one user (the API's case), from a Series as filters pass it
    one = pd.Series(["a", "a", "a"], dtype=object)
    assert contains(per_user, one, pd.Series(["y", "z", "x"])).tolist() == [True, False, True]
    assert contains(per_user, np.array(["c", "c"], dtype=object), ["x", "y"]).tolist() == [
        False,
        False,
    ]


def test_friends_circles_work_without_transfers() -> None:
    """Social edges alone (a public data set has no money transfers) still give ties."""
    import pandas as pd

    from features.contract import ContractData
    from features.contract.report import ValidationReport
    from ranking.catalog import Catalog

    t0 = pd.Timestamp("2020-01-01", tz="UTC")
    tables = {
        "users": pd.DataFrame({"user_id": ["a", "b"], "registered_at": [t0, t0]}),
        "circles": pd.DataFrame(
            {"circle_id": ["c"], "name": ["C"], "topic": ["x"], "created_at": [t0]}
        ),
        "memberships": pd.DataFrame(
            {"user_id": ["b"], "circle_id": ["c"], "joined_at": [t0], "left_at": [pd.NaT]}
        ),
        "social_edges": pd.DataFrame(
            {"user_id": ["a"], "other_id": ["b"], "created_at": [t0], "kind": ["friend"]}
        ),
    }
    data = ContractData(tables, ValidationReport(as_of=t0, quarantine_dir=""))
    ties = Catalog(data, t0 + pd.Timedelta(days=1)).social.table
    assert set(zip(ties["user_id"], ties["other_id"], strict=True)) == {("a", "b"), ("b", "a")}
    assert (ties["strength"] == 1.0).all()


@pytest.mark.parametrize("users", [["nobody"], ["nobody", "stranger"], ["nobody", "u1"]])
def test_users_no_source_finds_anything_for_get_an_empty_list(
    world: ContractData, users: list[str]
) -> None:
    strategy = Strategy(
        name="policy", surface="feed", sources=("circle_posts",), scorer="chronological"
    )
    result = Pipeline(strategy).run(context(world, "feed"), np.array(users, dtype=object), 20)
    assert set(result.ranked["user_id"]) == ({"u1"} if "u1" in users else set())
    assert result.candidates["circle_posts"] == (8 if "u1" in users else 0)
