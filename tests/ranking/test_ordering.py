"""Orderings every page relies on, against numpy's lexsort as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from circlerank.arrays import best_first, by_user_then


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40_000), st.integers(-3, 3)), min_size=0, max_size=300))
def test_by_user_then_equals_lexsort_ties_included(rows: list[tuple[int, int]]) -> None:
    users = np.array([u for u, _ in rows], dtype=np.int64)
    key = np.array([k for _, k in rows], dtype=np.float64)  # few values: many ties
    np.testing.assert_array_equal(by_user_then(users, key), np.lexsort((key, users)))
    with_nan = np.where(key == 3, np.nan, key)  # NaN never compares equal, yet ties
    np.testing.assert_array_equal(by_user_then(users, with_nan), np.lexsort((with_nan, users)))
    few_users = users % 3
    np.testing.assert_array_equal(by_user_then(few_users, key), np.lexsort((key, few_users)))
    one = np.zeros_like(users)  # the API's case
    np.testing.assert_array_equal(by_user_then(one, with_nan), np.lexsort((with_nan, one)))


@pytest.mark.parametrize("n_users", [1, 7, 500, 40_000])
def test_best_first_is_by_user_then_score_then_item_id(n_users: int) -> None:
    rng = np.random.default_rng(n_users)
    n = 5_000
    users = rng.integers(0, n_users, n)
    items = np.array([f"p{i:05d}" for i in rng.integers(0, 900, n)], dtype=object)
    score = rng.integers(0, 30, n).astype(np.float64)  # tied scores are broken by id
    order = best_first(users, items, score)
    ids = np.unique(items, return_inverse=True)[1]
    np.testing.assert_array_equal(order, np.lexsort((ids, -score, users)))
    distinct = rng.random(n)  # no ties: the fast path
    np.testing.assert_array_equal(
        best_first(users, items, distinct), np.lexsort((-distinct, users))
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-3, 3) | st.none(), min_size=0, max_size=120),
    st.integers(1, 130),
)
def test_one_users_shortlist_is_the_first_n_of_the_sorted_order(
    keys: list[int | None], n: int
) -> None:
    """The cascade's shortlist of one user (a partition) is the first `n` rows of the
    order by score descending, then row, NaN last: what the sort of many users keeps."""
    from ranking.scorers import _within_top

    score = np.array([np.nan if k is None else k for k in keys], dtype=np.float64)
    kept = _within_top(np.zeros(len(score), dtype=np.int64), score, n)
    want = np.zeros(len(score), dtype=bool)
    want[np.lexsort((np.arange(len(score)), -score))[:n]] = True
    np.testing.assert_array_equal(kept, want)
    # the same user among others (the sorting path) keeps the same rows
    others = np.concatenate([np.zeros(len(score), np.int64), np.ones(3, np.int64)])
    mixed = _within_top(others, np.concatenate([score, [9.0, 9.0, 9.0]]), n)
    np.testing.assert_array_equal(mixed[: len(score)], want)
