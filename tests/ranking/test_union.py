"""The candidate union against a dict as the oracle: one row per (user, item) in
first-seen order, the sources' bits ORed, the row as first seen."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking.feed_index import USER
from ranking.item_index import ROW
from ranking.pipeline import _union

_ITEMS = st.sampled_from(["p1", "p2", "p3", "p10", None])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3"]), _ITEMS), max_size=12),
        min_size=1,
        max_size=3,
    ),
    st.booleans(),
)
def test_union_is_first_seen_pairs_with_bits_ored(
    found: list[list[tuple[str, str | None]]], one_user: bool
) -> None:
    sources = [[("u1", i) if one_user else (u, i) for u, i in pairs] for pairs in found]
    want: dict[tuple[str, str | None], list[int]] = {}
    rows = []
    for s, pairs in enumerate(sources):
        for n, pair in enumerate(pairs):
            row = 100 * s + n
            rows.append(row)
            if pair in want:
                want[pair][0] |= 1 << s
            else:
                want[pair] = [1 << s, row]
    frame, _, _ = _union(
        [np.array([u for u, _ in pairs], dtype=object) for pairs in sources],
        [np.array([i for _, i in pairs], dtype=object) for pairs in sources],
        [np.full(len(pairs), 1 << s, dtype=np.int64) for s, pairs in enumerate(sources)],
        [100 * s + np.arange(len(pairs), dtype=np.int64) for s, pairs in enumerate(sources)],
    )
    got = list(zip(frame["user_id"], frame["item_id"], strict=True))
    assert got == list(want)
    assert frame["sources"].tolist() == [bits for bits, _ in want.values()]
    assert frame[ROW].tolist() == [row for _, row in want.values()]
    users = sorted({u for u, _ in want})
    assert frame[USER].tolist() == [users.index(u) for u, _ in got]
