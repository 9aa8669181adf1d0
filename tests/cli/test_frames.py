"""frame_of, repeated and values_of: what pandas' own constructor and accessors give,
minus inference and Series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from circlerank.frames import frame_of, repeated, values_of


def test_frame_of_equals_the_public_constructor_with_every_dtype_kept() -> None:
    ts = pd.Series(pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03"], utc=True))
    reasons = pd.Series([["a"], [], ["b", "c"]], dtype=object)
    arrays = {
        "user_id": np.array(["u1", "u1", "u2"], dtype=object),
        "item_id": np.array(["p9", "p3", "p3"], dtype=object),
        "score": np.array([0.5, np.nan, -1.0]),
        "rank": np.array([0, 1, 0], dtype=np.int64),
    }
    built = frame_of({**arrays, "reasons": reasons, "ts": ts})
    expected = pd.DataFrame(
        {
            **{k: pd.Series(v, dtype=v.dtype) for k, v in arrays.items()},
            "reasons": reasons,
            "ts": ts,
        }
    )
    pd.testing.assert_frame_equal(built, expected, check_column_type=False)
    # ids stay object: from raw arrays the public constructor would infer Arrow strings
    assert built["user_id"].dtype == object and built["item_id"].dtype == object
    assert built["ts"].dtype == ts.dtype
    assert isinstance(built.index, pd.RangeIndex) and list(built.index) == [0, 1, 2]
    assert built["reasons"].tolist() == [["a"], [], ["b", "c"]]


def test_frame_of_an_empty_mapping_and_empty_columns() -> None:
    assert frame_of({}).shape == (0, 0)
    empty = frame_of({"user_id": np.empty(0, dtype=object), "score": np.empty(0)})
    assert empty.shape == (0, 2) and empty["score"].dtype == np.float64


def test_frame_of_refuses_columns_of_different_lengths_or_dimensions() -> None:
    with pytest.raises(ValueError, match="one length"):
        frame_of({"a": np.zeros(3), "b": np.zeros(2)})
    with pytest.raises(ValueError, match="1-d"):
        frame_of({"a": np.zeros((3, 2))})


@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Shanghai"])
def test_repeated_equals_a_broadcast_scalar(tz: str | None) -> None:
    ts = pd.Timestamp("2026-03-31 12:34:56.789", tz=tz).as_unit("us")
    broadcast = pd.DataFrame({"x": np.zeros(4), "t": ts})["t"]
    column = pd.Series(repeated(ts, 4))
    pd.testing.assert_series_equal(column, broadcast, check_names=False)
    # as a frame's column it stays a datetime column, not objects
    framed = frame_of({"x": np.zeros(4), "t": repeated(ts, 4)})["t"]
    pd.testing.assert_series_equal(framed, broadcast, check_names=False)
    assert len(repeated(ts, 0)) == 0


@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Shanghai"])
def test_repeated_columns_share_a_block_no_caller_can_write(tz: str | None) -> None:
    ts = pd.Timestamp("2026-03-31 12:34:56.789", tz=tz).as_unit("us")
    for n in (1, 5, 1024, 1025, 3000):
        column = repeated(ts, n)
        assert len(column) == n and (column == ts).all()
        with pytest.raises(ValueError, match="read-only"):
            column[0] = ts + pd.Timedelta(days=1)
    assert (repeated(ts, 7) == ts).all()  # the refused writes changed nothing


def test_values_of_equals_the_series_to_numpy_for_every_kind_of_column() -> None:
    n = 4
    public = pd.DataFrame(
        {
            "ids": pd.Series(["u1", "u2", None, "u4"], dtype="str"),
            "objects": np.array(["a", None, 3, "d"], dtype=object),
            "ints": np.arange(n, dtype=np.int64),
            "floats": np.array([0.5, np.nan, -1.0, 2.0]),
            "flags": pd.array([True, None, False, True], dtype="boolean"),
            "ts": pd.to_datetime(["2026-01-01", None, "2026-01-03", "2026-01-04"], utc=True),
            "kinds": pd.Categorical(["x", "y", "x", None]),
        }
    )
    built = frame_of({"ids": np.array(["u1", "u2", "u3", "u4"], dtype=object), "n": np.arange(n)})
    for frame in (public, public.iloc[1:3], built):  # a slice: the block's rows 1-2
        for name in frame.columns:
            for dtype in (None, object):
                want = frame[name].to_numpy(dtype=dtype)
                got = values_of(frame, name, dtype)
                assert got.dtype == want.dtype and got.shape == want.shape, (name, dtype)
                assert pd.isna(got).tolist() == pd.isna(want).tolist()
                assert [v for v in got.tolist() if not pd.isna(v)] == [
                    v for v in want.tolist() if not pd.isna(v)
                ]
    assert values_of(public, "ints", np.float64).dtype == np.float64
    with pytest.raises(KeyError):
        values_of(public, "missing")


def test_values_of_gives_a_frame_its_values_read_only() -> None:
    ids = np.array(["u1", "u2"], dtype=object)
    frame = frame_of({"user_id": ids, "n": np.arange(2)})
    got = values_of(frame, "user_id")
    assert np.shares_memory(got, ids) and not got.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        values_of(frame, "n", np.int64)[0] = 7
    assert frame["n"].tolist() == [0, 1] and ids.flags.writeable  # the caller's array too
    twice = pd.DataFrame([[1, 2]], columns=["a", "a"])
    np.testing.assert_array_equal(values_of(twice, "a"), twice["a"].to_numpy())
