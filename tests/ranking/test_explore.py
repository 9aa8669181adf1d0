"""Exploring pages: the logged propensities are the true (item, slot) probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from ranking.explore import Exploration, fill_slots

SCORES = np.array([2.0, 1.5, 1.4, 0.3, -0.5, -0.7])  # best first


@pytest.mark.parametrize(("epsilon", "pool", "slots"), [(0.3, 4, 3), (1.0, 6, 2), (0.05, 10, 4)])
def test_logged_propensities_are_the_item_slot_frequencies(epsilon, pool, slots) -> None:
    exploration = Exploration(epsilon=epsilon, pool=pool)
    rng = np.random.default_rng(0)
    draws = 40_000
    n = min(len(SCORES), max(pool, slots))
    counts = np.zeros((n, slots))
    logged: dict[tuple[int, int], float] = {}
    for _ in range(draws):
        shown, propensity = fill_slots(SCORES, slots, exploration, rng)
        assert len(set(shown.tolist())) == len(shown) == slots  # no repeats, a full page
        for slot, (item, p) in enumerate(zip(shown, propensity, strict=True)):
            counts[item, slot] += 1
            assert logged.setdefault((int(item), slot), float(p)) == p  # one value per pair
    for (item, slot), p in logged.items():
        # the policy's definition: the best-first item at its own rank, else uniform
        exact = epsilon / n + (1 - epsilon) * (item == slot)
        assert p == pytest.approx(exact, rel=1e-12)
        se = np.sqrt(exact * (1 - exact) / draws)
        assert abs(counts[item, slot] / draws - exact) < 5 * se + 1e-4
    # every slot is filled by exactly one item: the marginals of a slot sum to one
    for slot in range(slots):
        total = sum(epsilon / n + (1 - epsilon) * (i == slot) for i in range(n))
        assert total == pytest.approx(1.0)


def test_without_exploration_the_best_first_list_is_shown_with_propensity_one() -> None:
    for rng in (np.random.default_rng(0), None):  # nothing is drawn: no generator needed
        shown, propensity = fill_slots(SCORES, 3, None, rng)
        assert shown.tolist() == [0, 1, 2] and propensity.tolist() == [1.0, 1.0, 1.0]


def test_an_exploring_page_without_a_generator_is_refused() -> None:
    with pytest.raises(ValueError, match="pass rng"):
        fill_slots(SCORES, 3, Exploration(epsilon=0.5, pool=4), None)


def test_the_pool_bounds_what_an_exploring_policy_shows() -> None:
    e = Exploration(epsilon=1.0, pool=3)
    rng = np.random.default_rng(1)
    shown = {int(i) for _ in range(500) for i in fill_slots(SCORES, 2, e, rng)[0]}
    assert shown == {0, 1, 2}


def test_a_page_longer_than_the_pool_widens_the_pool() -> None:
    shown, propensity = fill_slots(
        SCORES, 5, Exploration(epsilon=0.5, pool=2), np.random.default_rng(2)
    )
    assert len(shown) == 5 and np.all(propensity >= 0.5 / 5)
