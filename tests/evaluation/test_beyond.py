"""Beyond-accuracy metrics on pages with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.beyond import coverage, exposure_gini, intra_list_diversity, novelty

PAGES = pd.DataFrame(
    {
        "user_id": ["a", "a", "a", "b", "b", "b"],
        "item_id": ["p1", "p2", "p3", "p1", "p4", "p9"],
        "rank": [0, 1, 2, 0, 1, 2],
    }
)
CIRCLE = pd.Series({"p1": "c1", "p2": "c1", "p3": "c2", "p4": "c3", "p9": "c3"})


def test_coverage_counts_distinct_shown_catalog_items() -> None:
    catalog = pd.Index([f"p{i}" for i in range(1, 11)])
    assert coverage(PAGES, catalog, k=3) == pytest.approx(5 / 10)
    assert coverage(PAGES, catalog, k=1) == pytest.approx(1 / 10)


def test_novelty_is_self_information_of_popularity() -> None:
    popularity = pd.Series({"p1": 50, "p2": 25})
    got = novelty(PAGES[PAGES["user_id"] == "a"].head(2), popularity, users=100, k=3)
    assert got == pytest.approx(np.mean([1.0, 2.0]))
    unseen = novelty(PAGES[PAGES["item_id"] == "p9"], popularity, users=100, k=3)
    assert unseen == pytest.approx(np.log2(101))


def test_intra_list_diversity_is_the_share_of_differing_pairs() -> None:
    # a: c1, c1, c2 -> 2 of 3 pairs differ; b: c1, c3, c3 -> 2 of 3
    assert intra_list_diversity(PAGES, CIRCLE, k=3) == pytest.approx(2 / 3)
    assert np.isnan(intra_list_diversity(PAGES, CIRCLE, k=1))  # one-item pages: no pairs


def test_exposure_gini_over_every_group() -> None:
    every = pd.Index(["c1", "c2", "c3", "c4"])
    # shown: c1 x3, c2 x1, c3 x2, c4 x0
    expected = pd.Series([3, 1, 2, 0]).sort_values().to_numpy()
    n = len(expected)
    gini = 2 * (np.arange(1, n + 1) * expected).sum() / (n * expected.sum()) - (n + 1) / n
    assert exposure_gini(PAGES, CIRCLE, every, k=3) == pytest.approx(gini)
