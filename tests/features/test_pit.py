"""point_in_time against a brute-force oracle that filters the stream for every query."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features import pit
from features.pit import AS_OF, DecayedSums, Latest, Sums, point_in_time

T0 = pd.Timestamp("2026-03-01T00:00:00Z")
W7 = pd.Timedelta(days=7)
HALF = pd.Timedelta(days=3)


def minutes(values: list[int]) -> pd.Series:
    return pd.Series(T0 + pd.to_timedelta(values, unit="min")).astype("datetime64[us, UTC]")


def oracle(stream: pd.DataFrame, queries: pd.DataFrame, reference: pd.Timestamp) -> pd.DataFrame:
    rows = []
    for _, q in queries.iterrows():
        mine = stream[(stream.k == q.k) & (stream.ts < q[AS_OF])]
        recent = mine[mine.ts >= q[AS_OF] - W7]
        age_days = (q[AS_OF] - mine.ts) / pd.Timedelta(days=1)
        weight = np.power(2.0, -age_days / 3.0)
        last = mine.sort_values("ts", kind="stable").tail(1)
        rows.append(
            {
                "x_all": mine.x.sum(),
                "x_7d": recent.x.sum(),
                "x_decay3d": float((mine.x * weight).sum()),
                "y_latest": float(last.y.iloc[0]) if len(last) else np.nan,
            }
        )
    return pd.DataFrame(rows, index=queries.index)


@settings(max_examples=120, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(0, 30 * 1440), st.integers(-3, 9)),
        max_size=40,
    ),
    asks=st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 31 * 1440)), min_size=1),
    exact_hits=st.booleans(),
    one_time=st.booleans(),
)
def test_point_in_time_matches_brute_force(
    rows: list[tuple[str, int, int]],
    asks: list[tuple[str, int]],
    exact_hits: bool,
    one_time: bool,
) -> None:
    stream = pd.DataFrame(rows, columns=["k", "m", "x"])
    stream["ts"] = minutes(stream.m.tolist())
    stream["x"] = stream.x.astype(float)
    stream["y"] = np.arange(len(stream), dtype=float)
    if exact_hits and rows:  # ask exactly at stream times: those rows must not count
        asks = asks + [(k, m) for k, m, _ in rows[:5]]
    queries = pd.DataFrame(asks, columns=["k", "m"])
    if one_time:  # a snapshot: answered by one pass over the stream, without sorting
        queries["m"] = queries.m.iloc[-1]
    queries[AS_OF] = minutes(queries.m.tolist())
    queries.index = pd.Index(np.arange(len(queries))[::-1] * 10)  # any index is kept
    reference = T0 + pd.Timedelta(days=40)

    got = point_in_time(
        stream,
        queries,
        ["k"],
        [Sums(("x",), (None, W7)), DecayedSums(("x",), HALF), Latest(("y",))],
        reference=reference,
    )
    want = oracle(stream, queries, reference)
    # latest: among rows tied at the same time the oracle and the primitive both take
    # the last in file order
    pd.testing.assert_frame_equal(got[want.columns], want, check_exact=False, rtol=1e-9, atol=1e-9)


def test_answers_by_key_ranges_equal_one_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    n = 5_000
    stream = pd.DataFrame(
        {
            "u": rng.choice([f"u{i}" for i in range(300)], n),
            "c": rng.choice(["x", "y", "z"], n),
            "v": rng.normal(size=n),
            "ts": minutes(rng.integers(0, 20 * 1440, n).tolist()),
        }
    )
    queries = pd.DataFrame(
        {"u": rng.choice([f"u{i}" for i in range(320)], 800), "c": rng.choice(["x", "z"], 800)}
    )
    queries[AS_OF] = minutes(rng.integers(0, 21 * 1440, 800).tolist())
    aggregations = [Sums(("v",), (None, W7)), DecayedSums(("v",), HALF), Latest(("v",))]
    whole = point_in_time(stream, queries, ["u", "c"], aggregations)
    monkeypatch.setattr(pit, "CHUNK_ROWS", 700)  # about 8 key ranges
    ranged = point_in_time(stream, queries, ["u", "c"], aggregations)
    pd.testing.assert_frame_equal(ranged, whole, check_exact=True)  # bit for bit
    assert whole["v_all"].abs().sum() > 0 and whole["v_latest"].notna().any()


def test_two_key_columns_and_empty_stream() -> None:
    stream = pd.DataFrame(
        {"u": ["a", "a", "b"], "c": ["x", "y", "x"], "v": [1.0, 2.0, 4.0], "ts": minutes([0, 1, 2])}
    )
    queries = pd.DataFrame({"u": ["a", "a", "b", "z"], "c": ["x", "y", "x", "x"]})
    queries[AS_OF] = minutes([5, 5, 2, 5])
    got = point_in_time(stream, queries, ["u", "c"], [Sums(("v",))])
    assert got["v_all"].tolist() == [1.0, 2.0, 0.0, 0.0]  # b/x at exactly its row time: 0
    empty = point_in_time(stream.iloc[:0], queries, ["u", "c"], [Sums(("v",)), Latest(("v",))])
    assert empty["v_all"].tolist() == [0.0] * 4 and empty["v_latest"].isna().all()
