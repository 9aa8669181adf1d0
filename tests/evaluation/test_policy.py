"""The logging policy's propensities are the true probabilities of (item, slot)."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.simulator import EpsilonGreedySlates


@pytest.mark.parametrize(("n_items", "slate", "epsilon"), [(6, 3, 0.3), (4, 4, 0.5), (3, 5, 0.2)])
def test_logged_propensity_equals_empirical_frequency(
    n_items: int, slate: int, epsilon: float
) -> None:
    requests = 40_000
    scores = np.tile(np.array([0.9, 0.1, 0.5, 0.7, 0.3, 0.2][:n_items]), requests)
    group = np.repeat(np.arange(requests), n_items)
    shown = EpsilonGreedySlates(epsilon).select(np.random.default_rng(5), group, scores, slate)
    item = shown.row % n_items
    counts = np.zeros((n_items, min(slate, n_items)))
    np.add.at(counts, (item, shown.slot), 1)
    empirical = counts / requests
    logged = np.full_like(empirical, np.nan)
    logged[item, shown.slot] = shown.propensity
    # an (item, slot) never shown would need its propensity too: with epsilon > 0 all occur
    assert not np.isnan(logged).any()
    assert np.abs(empirical - logged).max() < 4 * np.sqrt(0.25 / requests)
    assert np.allclose(logged.sum(axis=0), 1.0)  # every slot holds exactly one item
