"""Team-draft interleaving of two rankings, and the exact probability of each
(item, slot) under it.

The teams take turns; a fair coin decides who goes first whenever both have placed as
many items; each adds its best item not yet on the page. The page is random only
through the coins, so the probability of an item in a slot is exact once every coin
sequence is enumerated (2^(k/2 + 1) sequences for a page of k: cheap for short pages).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Sequence

import numpy as np

A, B = 0, 1
MAX_EXACT_PAGE = 12  # pages up to this long get exact propensities (128 coin sequences)


def _draft(
    a: Sequence[Hashable], b: Sequence[Hashable], k: int, coin: Callable[[], int]
) -> tuple[list[Hashable], list[int]]:
    page: list[Hashable] = []
    team: list[int] = []
    placed: set[Hashable] = set()
    picks, cursor = [0, 0], [0, 0]
    lists = (a, b)

    def advance(side: int) -> bool:
        while cursor[side] < len(lists[side]) and lists[side][cursor[side]] in placed:
            cursor[side] += 1
        return cursor[side] < len(lists[side])

    while len(page) < k:
        behind = A if picks[A] < picks[B] else B
        turn = behind if picks[A] != picks[B] else coin()  # the team behind catches up
        if not advance(turn):  # this team has nothing left: the other goes on
            turn = 1 - turn
            if not advance(turn):
                break
        item = lists[turn][cursor[turn]]
        page.append(item)
        team.append(turn)
        placed.add(item)
        picks[turn] += 1
    return page, team


def team_draft(
    a: Sequence[Hashable], b: Sequence[Hashable], k: int, rng: np.random.Generator
) -> tuple[list[Hashable], list[int]]:
    """The interleaved page (at most k items) and the team (A or B) of each slot."""
    return _draft(a, b, k, lambda: int(rng.random() < 0.5))


def slot_probabilities(
    a: Sequence[Hashable], b: Sequence[Hashable], k: int
) -> dict[tuple[Hashable, int], float]:
    """P(item in slot) under team draft, exactly, by enumerating the coins."""
    if k > MAX_EXACT_PAGE:
        raise ValueError(f"exact propensities need a page of at most {MAX_EXACT_PAGE}, got {k}")
    flips = k // 2 + 1
    weight = 0.5**flips
    out: dict[tuple[Hashable, int], float] = {}
    for bits in itertools.product((A, B), repeat=flips):
        coins = iter(bits)
        page, _ = _draft(a, b, k, lambda coins=coins: next(coins))  # type: ignore[misc]
        for slot, item in enumerate(page):
            out[(item, slot)] = out.get((item, slot), 0.0) + weight
    return out
