"""frame_of and repeated: the same frames pandas' constructor builds, minus inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from circlerank.frames import frame_of, repeated


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
