"""distinct_rows against np.unique as the oracle, on both of its paths."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from circlerank.arrays import combined_codes, distinct_rows

codes_of = st.integers(0, 60).flatmap(
    lambda n: st.lists(
        st.lists(st.integers(-1, 40), min_size=n, max_size=n)
        | st.lists(st.integers(-1, 90_000), min_size=n, max_size=n),  # sparse: the sort
        min_size=1,
        max_size=3,
    ).map(lambda columns: (n, [np.array(c, dtype=np.intp) for c in columns]))
)


@settings(max_examples=300, deadline=None)
@given(codes_of)
def test_distinct_rows_numbers_combinations_as_np_unique(
    case: tuple[int, list[np.ndarray]],
) -> None:
    n, codes = case
    first, inverse = distinct_rows(codes, n)
    _, want_first, want_inverse = np.unique(
        combined_codes(codes), return_index=True, return_inverse=True
    )
    np.testing.assert_array_equal(first, want_first)
    np.testing.assert_array_equal(inverse, want_inverse)


def test_distinct_rows_without_codes_is_one_combination() -> None:
    first, inverse = distinct_rows([], 4)
    np.testing.assert_array_equal(first, [0])
    np.testing.assert_array_equal(inverse, [0, 0, 0, 0])
    assert len(distinct_rows([], 0)[0]) == 0
