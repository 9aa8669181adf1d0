"""Re-rankers on hand-built cases: each factor worked out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import ContractData
from ranking.catalog import Catalog
from ranking.components import RankContext, Slate
from ranking.rerankers import explored_slots, occurrence, scaled
from ranking.strategy import component_class

from .policy_world import AS_OF_DAY, EVENTS, day, load


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> ContractData:
    return load(tmp_path_factory.mktemp("policy"))


def slate(ctx: RankContext, items: list[str], score: np.ndarray | None = None) -> Slate:
    """u1's items, best first unless `score` says otherwise."""
    ids = pd.Series(items, dtype=object)
    return Slate(
        user=np.array(["u1"] * len(items), dtype=object),
        item=ids.to_numpy(),
        row=ctx.catalog.item_index.rows(ctx.surface, ids),
        score=np.linspace(2.0, 1.0, len(items)) if score is None else score,
    )


def rerank(
    data: ContractData, name: str, surface: str, items: list[str], **params: float
) -> np.ndarray:
    """The factor each item's score (positive, in the given order) is multiplied by."""
    cls = component_class("rerankers", name, surface)
    ctx = RankContext(surface, Catalog(data, day(AS_OF_DAY)), features=None, bundle=None)
    given = slate(ctx, items)
    return cls(cls.Params(**params)).rerank(ctx, given) / given.score


def test_occurrence_counts_earlier_rows_of_the_same_user_and_key() -> None:
    users = np.array([0, 0, 1, 0, 1, 0, 0])
    keys = np.array([7, 3, 7, 7, 7, -1, -1])
    assert occurrence(users, keys).tolist() == [0, 0, 0, 1, 1, 0, 1]
    assert occurrence(np.zeros(4, np.int64), np.array([2, 2, 0, 2])).tolist() == [0, 1, 0, 2]


def test_a_discount_never_lifts_a_negative_score() -> None:
    got = scaled(np.array([2.0, -2.0, 0.0]), np.array([0.5, 0.5, 0.5]))
    assert got.tolist() == [1.0, -4.0, 0.0]


def test_author_diversity_decays_to_the_floor(world: ContractData) -> None:
    # p_h1, p_h2 and p_u4 are all by u4; p_ok by u3
    factors = rerank(world, "author_diversity", "feed", ["p_h1", "p_ok", "p_h2", "p_u4"])
    assert factors == pytest.approx([1.0, 1.0, 0.75 * 0.5 + 0.25, 0.75 * 0.25 + 0.25])
    flat = rerank(world, "author_diversity", "feed", ["p_h1", "p_h2"], decay=1.0, floor=0.0)
    assert flat.tolist() == [1.0, 1.0]


def test_member_made_posts_are_boosted(world: ContractData) -> None:
    factors = rerank(world, "member_made_boost", "feed", ["p_ok", "p_official"], boost=1.5)
    assert factors.tolist() == [1.5, 1.0]


def test_new_creators_are_boosted(world: ContractData) -> None:
    # first posts: u2 day 1, u3 and u4 day 4, official day 9; as of day 10
    items = ["p_seen", "p_ok", "p_u4", "p_official"]
    factors = rerank(world, "new_creator_boost", "feed", items, boost=2.0, days=5.5)
    assert factors.tolist() == [1.0, 1.0, 1.0, 2.0]


def test_quiet_authors_are_boosted_until_answered(world: ContractData, tmp_path: Path) -> None:
    # fresh member posts as of day 10: u2 p_seen, p_left; u3 p_ok, p_seen_5d, p_hidden;
    # u4 p_h1, p_h2, p_u4. Positive actions: p_ok two, p_seen_5d one, p_seen one, so
    # per post u3 drew 1.0, u2 0.5 and u4 none; a hide is no answer
    answers = [
        (9.5, "u2", "feed", "p_ok", "click"),
        (9.6, "u2", "feed", "p_ok", "like"),
        (5.5, "u1", "feed", "p_seen_5d", "comment"),
        (9.2, "u1", "feed", "p_seen", "click"),
    ]
    data = load(tmp_path, [*EVENTS, *answers])
    items = ["p_ok", "p_seen", "p_u4", "p_official"]
    factors = rerank(data, "quiet_author_boost", "feed", items, boost=2.0, min_response=1.0)
    assert factors.tolist() == [1.0, 2.0, 2.0, 1.0]
    stricter = rerank(data, "quiet_author_boost", "feed", items, boost=2.0, min_response=0.5)
    assert stricter.tolist() == [1.0, 1.0, 2.0, 1.0]
    unanswered = rerank(world, "quiet_author_boost", "feed", items, boost=2.0)
    assert unanswered.tolist() == [2.0, 2.0, 2.0, 1.0]


def test_fatigue_discounts_authors_the_user_keeps_skipping(world: ContractData) -> None:
    # in the last 7 days u1 skipped u2 once (p_seen), u3 twice (p_seen_5d; p_hidden, a
    # hide is no engagement) and u4 twice (p_h1, p_h2); official never
    items = ["p_seen", "p_ok", "p_u4", "p_official"]
    factors = rerank(world, "feedback_fatigue", "feed", items, free_skips=1, rate=1.0, floor=0.1)
    assert factors.tolist() == [1.0, 0.5, 0.5, 1.0]
    floored = rerank(world, "feedback_fatigue", "feed", items, free_skips=0, rate=9.0, floor=0.3)
    assert floored.tolist() == [0.3, 0.3, 0.3, 1.0]


def test_small_circles_are_boosted(world: ContractData) -> None:
    # members as of day 10: c1 four, c2 one (u1 left), c3 and c4 none
    items = ["c1", "c2", "c3", "c4"]
    factors = rerank(world, "small_circle_boost", "circle_suggestions", items, max_members=2)
    assert factors.tolist() == [1.0, 1.3, 1.3, 1.3]


def test_new_posts_get_a_bounded_share_of_slots(world: ContractData) -> None:
    # as of day 10, posts of day 9 are 24 h old and were never shown: new at 30 h
    old = ["p_seen", "p_seen_5d", "p_hidden", "p_h1", "p_h2", "p_deleted", "p_left"]
    new = ["p_ok", "p_u4", "p_official"]
    cls = component_class("rerankers", "explore_new_posts", "feed")
    ctx = RankContext("feed", Catalog(world, day(AS_OF_DAY)), features=None, bundle=None)
    items = old + new  # the model ranks every new post last
    best = np.linspace(2.0, 1.0, len(items))
    # two users' lists, entries shuffled: a slate's order is not its ranking
    shuffle = np.random.default_rng(0).permutation(2 * len(items))
    ids = pd.Series((items + items), dtype=object).iloc[shuffle]
    given = Slate(
        user=np.array(["u1"] * len(items) + ["u2"] * len(items), dtype=object)[shuffle],
        item=ids.to_numpy(),
        row=ctx.catalog.item_index.rows("feed", ids),
        score=np.r_[best, best + 5.0][shuffle],
    )

    score = cls(cls.Params(every=4, max_age_hours=30)).rerank(ctx, given)

    for user in ("u1", "u2"):
        mine = np.flatnonzero(given.user == user)
        order = given.item[mine[np.argsort(-score[mine], kind="stable")]].tolist()
        assert order == [*old[:3], "p_ok", *old[3:6], "p_u4", old[6], "p_official"]
        assert sorted(score[mine]) == pytest.approx(sorted(given.score[mine]))
    young = cls(cls.Params(every=4, max_age_hours=20)).rerank(ctx, given)
    assert young.tolist() == given.score.tolist()  # nothing is new at 20 h


def merged_one_slot_at_a_time(new: list[bool], every: int) -> list[int]:
    """Reference: one list's positions in their new order, walking the slots."""
    fresh = [i for i, is_new in enumerate(new) if is_new]
    rest = [i for i, is_new in enumerate(new) if not is_new]
    merged: list[int] = []
    while fresh and rest:
        reserved = len(merged) % every == every - 1
        merged.append(fresh.pop(0) if reserved or fresh[0] < rest[0] else rest.pop(0))
    return merged + fresh + rest


@pytest.mark.parametrize("seed", range(30))
def test_exploration_slots_equal_the_slot_by_slot_merge(seed: int) -> None:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 40, rng.integers(1, 12))
    every = int(rng.integers(2, 6))
    user = np.repeat(np.arange(len(sizes)), sizes)
    position = np.concatenate([np.arange(k) for k in sizes]).astype(np.int64)
    new = rng.random(len(user)) < rng.choice([0.05, 0.3, 0.8])
    slots = explored_slots(user, position, new, every)
    expected = []
    for u, size in enumerate(sizes):
        first = int(np.flatnonzero(user == u)[0]) if size else 0
        merged = merged_one_slot_at_a_time(new[user == u].tolist(), every)
        placed = np.empty(size, dtype=np.int64)
        placed[merged] = np.arange(size)
        expected += (first + placed).tolist()
    assert slots.tolist() == expected


def test_fatigue_on_suggestions_counts_circles_shown_without_a_join(world: ContractData) -> None:
    # u1 was shown c3 on day 8 and dismissed it (no join); c4 was shown 50 days ago
    items = ["c1", "c3", "c4"]
    factors = rerank(world, "feedback_fatigue", "circle_suggestions", items, free_skips=0, rate=1.0)
    assert factors.tolist() == [1.0, 0.5, 1.0]
