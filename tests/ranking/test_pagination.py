"""Pagination: pages of one session have no duplicates and no holes even when posts
arrive between calls; a tampered, expired or foreign cursor is a clear error."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pandas as pd
import pytest

from circlerank.errors import CursorError
from evaluation.simulator import SimResult
from features.contract import ContractData, load_contract
from ranking.catalog import Catalog
from ranking.components import RankContext
from ranking.cursor import CursorSigner
from ranking.pages import Pager
from ranking.strategy import load_strategies

SECRET = "test-secret-of-enough-bytes"
LIMIT = 3


@pytest.fixture(scope="module")
def world(small_world: SimResult) -> ContractData:
    return load_contract(small_world.out_dir, as_of=small_world.split_time)


class Server:
    """Ranks from whatever data it holds now; `data` may grow between calls."""

    def __init__(self, data: ContractData) -> None:
        self.data = data

    def context(self, surface: str, as_of: pd.Timestamp) -> RankContext:
        return RankContext(surface, Catalog(self.data, as_of), features=None, bundle=None)

    def pager(self) -> Pager:
        return Pager(self.context, load_strategies(), CursorSigner(SECRET))


def busiest_user(data: ContractData, t: pd.Timestamp) -> str:
    posts = Catalog(data, t).feed.in_network(data["users"]["user_id"].to_numpy(dtype=object))
    return str(posts["user_id"].value_counts().index[0])


def with_new_posts(data: ContractData, user: str, created: pd.Timestamp, n: int) -> ContractData:
    """`data` plus n posts in the user's circles created at `created`."""
    circle = data["memberships"].loc[data["memberships"]["user_id"] == user, "circle_id"].iloc[0]
    posts = data["posts"]
    extra = posts.iloc[:n].copy()
    extra["post_id"] = [f"late-{created.value}-{i}" for i in range(n)]
    extra["circle_id"] = circle
    extra["author_id"] = posts["author_id"].iloc[0]
    extra["created_at"] = created
    extra["deleted_at"] = pd.NaT
    tables = {**data.tables, "posts": pd.concat([posts, extra], ignore_index=True)}
    return dataclasses.replace(data, tables=tables)


def read_pages(
    server: Server,
    user: str,
    now: pd.Timestamp,
    between: Callable[[int, pd.Timestamp], pd.Timestamp] | None = None,
) -> list[str]:
    """Five pages of the user's chronological feed; `between(page, now)` runs after each
    page (data may change) and returns the server's clock for the next call."""
    pager, cursor, served = server.pager(), None, []
    for i in range(5):
        page = pager.page(user, "feed", LIMIT, now, cursor=cursor, strategy="chronological")
        assert page.ranked["rank"].tolist() == list(range(i * LIMIT, (i + 1) * LIMIT))
        assert page.ranked["explanation"].str.len().gt(0).all()
        assert all(page.ranked["reasons"].map(len))
        served += page.ranked["item_id"].tolist()
        cursor = page.next_cursor
        assert cursor is not None
        if between is not None:
            now = between(i, now)
    return served


def test_five_pages_are_the_pinned_list_while_posts_arrive(
    world: ContractData, small_world: SimResult
) -> None:
    t = small_world.split_time
    user = busiest_user(world, t)
    growing = Server(world)

    def posts_arrive(page: int, now: pd.Timestamp) -> pd.Timestamp:
        later = now + pd.Timedelta(minutes=30)
        growing.data = with_new_posts(growing.data, user, later - pd.Timedelta(minutes=1), 3)
        return later

    steady = read_pages(Server(world), user, t)
    grown = read_pages(growing, user, t, posts_arrive)

    assert len(set(steady)) == len(steady) == 5 * LIMIT
    assert grown == steady  # no duplicates, no holes: the list pinned at t


def test_a_late_post_before_the_pin_is_served_once_and_nothing_is_lost(
    world: ContractData, small_world: SimResult
) -> None:
    t = small_world.split_time
    user = busiest_user(world, t)
    server = Server(world)

    def backdated_post(page: int, now: pd.Timestamp) -> pd.Timestamp:
        if page == 1:  # a post dated just before the pin arrives after page 2
            server.data = with_new_posts(server.data, user, t - pd.Timedelta(seconds=1), 1)
        return now

    pinned = read_pages(Server(world), user, t)
    served = read_pages(server, user, t, backdated_post)

    assert len(set(served)) == len(served)
    late = [i for i in served if str(i).startswith("late-")]
    assert len(late) == 1
    assert set(pinned[: 5 * LIMIT - 1]) <= set(served)  # only the last one pushed out


def test_bad_cursors_are_clear_errors(world: ContractData, small_world: SimResult) -> None:
    t = small_world.split_time
    user = busiest_user(world, t)
    pager = Server(world).pager()
    first = pager.page(user, "feed", LIMIT, t, strategy="chronological", clock=1000.0)
    cursor = first.next_cursor
    assert cursor is not None
    body, signature = cursor.split(".")
    forged = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + signature
    cases = {
        "signature": forged,
        "malformed": "not-a-cursor",
    }
    for message, token in cases.items():
        with pytest.raises(CursorError, match=message):
            pager.page(user, "feed", LIMIT, t, cursor=token, clock=1001.0)
    with pytest.raises(CursorError, match="expired"):
        pager.page(user, "feed", LIMIT, t, cursor=cursor, clock=1000.0 + 3601)
    with pytest.raises(CursorError, match="another user"):
        pager.page("someone-else", "feed", LIMIT, t, cursor=cursor, clock=1001.0)
    with pytest.raises(CursorError, match="strategy"):
        pager.page(user, "feed", LIMIT, t, cursor=cursor, strategy="popularity", clock=1001.0)
    other_secret = Pager(Server(world).context, load_strategies(), CursorSigner("x" * 16))
    with pytest.raises(CursorError, match="signature"):
        other_secret.page(user, "feed", LIMIT, t, cursor=cursor, clock=1001.0)


def test_an_unknown_page_option_is_refused(world: ContractData, small_world: SimResult) -> None:
    pager = Server(world).pager()
    with pytest.raises(TypeError, match="curosr"):
        pager.page("u1", "feed", LIMIT, small_world.split_time, curosr="x")  # type: ignore[call-arg]
