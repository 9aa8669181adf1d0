"""Exploring slot filling: the logged propensities are the true probabilities."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from ranking.explore import Exploration, fill_slots

SCORES = np.array([2.0, 1.5, 1.4, 0.3, -0.5])  # best first


def _page_probability_by_enumeration(
    scores: np.ndarray, page: tuple[int, ...], e: Exploration
) -> float:
    """The probability of a whole page from the policy's definition, slot by slot."""
    remaining = list(range(min(len(scores), e.pool)))
    p = 1.0
    for item in page:
        if e.kind == "plackett_luce":
            w = np.exp(scores[remaining] / e.temperature)
            p *= w[remaining.index(item)] / w.sum()
        else:
            uniform = e.epsilon / len(remaining)
            p *= uniform + (1 - e.epsilon) * (item == remaining[0])
        remaining.remove(item)
    return p


@pytest.mark.parametrize(
    "exploration",
    [
        Exploration(kind="plackett_luce", temperature=0.7, pool=4),
        Exploration(kind="epsilon_greedy", epsilon=0.3, pool=5),
    ],
)
def test_logged_propensities_match_the_page_frequencies(exploration: Exploration) -> None:
    rng = np.random.default_rng(0)
    draws = 40_000
    pages: Counter[tuple[int, ...]] = Counter()
    logged: dict[tuple[int, ...], float] = {}
    for _ in range(draws):
        shown, propensity = fill_slots(SCORES, 2, exploration, rng)
        page = tuple(int(i) for i in shown)
        pages[page] += 1
        logged[page] = float(np.prod(propensity))
    pool = min(len(SCORES), exploration.pool)
    every_page = list(itertools.permutations(range(pool), 2))
    exact = {p: _page_probability_by_enumeration(SCORES, p, exploration) for p in every_page}
    assert sum(exact.values()) == pytest.approx(1.0)
    for page, count in pages.items():
        assert logged[page] == pytest.approx(exact[page], rel=1e-12)
        se = np.sqrt(exact[page] * (1 - exact[page]) / draws)
        assert abs(count / draws - exact[page]) < 5 * se + 1e-4
    assert set(pages) <= set(every_page)


def test_without_exploration_the_best_first_list_is_shown_with_propensity_one() -> None:
    shown, propensity = fill_slots(SCORES, 3, None, np.random.default_rng(0))
    assert shown.tolist() == [0, 1, 2] and propensity.tolist() == [1.0, 1.0, 1.0]


def test_the_pool_bounds_what_an_exploring_policy_shows() -> None:
    e = Exploration(kind="epsilon_greedy", epsilon=1.0, pool=3)
    rng = np.random.default_rng(1)
    shown = {int(i) for _ in range(500) for i in fill_slots(SCORES, 2, e, rng)[0]}
    assert shown == {0, 1, 2}


def test_underflowing_weights_still_give_a_valid_draw() -> None:
    e = Exploration(kind="plackett_luce", temperature=1e-6, pool=5)
    shown, propensity = fill_slots(
        np.array([1e6, 0.0, -1e6, -2e6, -3e6]), 5, e, np.random.default_rng(2)
    )
    assert shown[0] == 0 and propensity[0] == pytest.approx(1.0)
    assert sorted(shown.tolist()) == [0, 1, 2, 3, 4] and (propensity > 0).all()
