"""The catalog's in-network feed against a merge of memberships and posts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract import ContractData
from ranking.catalog import Catalog
from ranking.components import RankContext
from ranking.feed_index import USER
from ranking.item_index import ROW
from ranking.strategy import component_class

from .policy_world import AS_OF_DAY, day, load


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> ContractData:
    return load(tmp_path_factory.mktemp("policy"))


@pytest.mark.parametrize("asked", [["u1"], ["u2", "u1", "u4"], ["u4", "nobody", "u3", "u2"]])
def test_feed_posts_are_the_members_circles_posts_not_their_own(
    world: ContractData, asked: list[str]
) -> None:
    catalog = Catalog(world, day(AS_OF_DAY))
    users = np.array(asked, dtype=object)
    got = catalog.feed.in_network(users)
    posts = catalog.feed.posts.assign(**{ROW: np.arange(len(catalog.feed.posts))})
    mine = catalog.memberships.table[catalog.memberships.table["user_id"].isin(asked)]
    expected = mine.merge(posts, on="circle_id")
    expected = expected[expected["author_id"] != expected["user_id"]]
    expected = expected.rename(columns={"post_id": "item_id"}).reset_index(drop=True)
    assert len(expected) > 0 and (expected["user_id"] != "u1").any() == (len(asked) > 1)
    columns = ["user_id", "circle_id", "item_id", "author_id", ROW]
    # the same values; the feed's frames keep ids as object arrays, under object labels
    pd.testing.assert_frame_equal(
        got[columns], expected[columns], check_dtype=False, check_column_type=False
    )
    codes = pd.factorize(got["user_id"], sort=True)[0]
    np.testing.assert_array_equal(got[USER].to_numpy(), codes)
    own = world["posts"].set_index("post_id")["author_id"]
    assert (own[got["item_id"]].to_numpy() != got["user_id"].to_numpy()).all()


def test_feed_sources_give_each_items_own_row(world: ContractData) -> None:
    """The rows sources hand the pipeline (so it need not look items up) are the items'
    rows in `items("feed")`."""
    catalog = Catalog(world, day(AS_OF_DAY))
    ctx = RankContext("feed", catalog, features=None, bundle=None)
    users = np.array(["u1", "u2", "u3", "u4"], dtype=object)
    checked = 0
    for name in (
        "circle_posts",
        "trending_posts",
        "fresh_posts",
        "new_creator_posts",
        "social_posts",
        "popular_posts",
    ):
        cls = component_class("sources", name, "feed")
        got = cls(cls.Params()).fetch(ctx, users)
        assert ROW in got
        expected = catalog.item_index.rows("feed", got["item_id"])
        np.testing.assert_array_equal(got[ROW].to_numpy(), expected)
        checked += len(got)
    assert checked > 0
