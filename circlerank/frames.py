"""DataFrames built from arrays without pandas' per-column inference.

A request builds a handful of small frames (candidates, the ranked page). pandas' own
constructor spends about 100-200 µs on each: it infers a string dtype for object
columns (converting every id to Arrow), builds a string column index and checks every
column's length. Arrays the ranking code made itself need none of that: the frame is
built as given, each array one column of its own dtype, under an object column index
(column look-ups by name are also about twice as fast on it).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.extensions import ExtensionArray

Column: TypeAlias = np.ndarray | ExtensionArray | pd.Series

try:  # pandas' internal frame constructor, the fastest way from arrays to a frame
    from pandas.core.internals.construction import arrays_to_mgr as _arrays_to_mgr
except ImportError:  # pragma: no cover - a pandas that moved it: the public constructor
    _arrays_to_mgr = None


def frame_of(columns: Mapping[str, Column]) -> pd.DataFrame:
    """A frame with these columns (same length each) and a 0..n-1 index, every column
    keeping its dtype: an object array of ids stays object. Nothing is copied, and
    pandas does not track the sharing: neither the arrays nor the frame may be changed
    in place afterwards (the ranking code replaces columns, it never writes into them)."""
    arrays = [_array(c) for c in columns.values()]
    n = len(arrays[0]) if arrays else 0
    if any(a.ndim != 1 or len(a) != n for a in arrays):
        shapes = {name: a.shape for name, a in zip(columns, arrays, strict=True)}
        raise ValueError(f"columns must be 1-d of one length, got {shapes}")
    names = _names(tuple(columns))
    if _arrays_to_mgr is None:  # a pandas without the internal constructor: the public one
        series = [pd.Series(a, dtype=a.dtype, copy=False) for a in arrays]
        return pd.DataFrame(dict(zip(names, series, strict=True)), columns=names, copy=False)
    # a block per column: consolidating stacks same-dtype columns into a copy
    mgr = _arrays_to_mgr(arrays, names, pd.RangeIndex(n), verify_integrity=False, consolidate=False)
    return pd.DataFrame._from_mgr(mgr, axes=mgr.axes)


def values_of(frame: pd.DataFrame, name: str, dtype: npt.DTypeLike | None = None) -> np.ndarray:
    """`frame[name].to_numpy(dtype=dtype)` without building the Series: pandas spends
    15-30 µs on each `frame[name]`, and a ranked request reads a column about 30 times.
    The frame's own values come as a read-only view, as pandas' copy-on-write gives them."""
    at = frame.columns.get_loc(name)
    if not isinstance(at, int):  # a repeated column name: pandas' own answer
        return frame[name].to_numpy(dtype=dtype)
    values = frame._get_column_array(at)
    if isinstance(values, np.ndarray):
        out = values if dtype is None else np.asarray(values, dtype=dtype)
        if out is values:
            out = values.view()
            out.flags.writeable = False
        return out
    return values.to_numpy(dtype=dtype)


@functools.lru_cache(maxsize=256)
def _names(columns: tuple[str, ...]) -> pd.Index:
    """The column index of these names (an Index is immutable: frames may share one,
    and the few column sets of the ranking code are built once)."""
    return pd.Index(list(columns), dtype=object)


def _array(column: Column) -> np.ndarray | ExtensionArray:
    if isinstance(column, pd.Series):
        return column.array
    return column if isinstance(column, ExtensionArray) else np.asarray(column)


def repeated(ts: pd.Timestamp, n: int) -> ExtensionArray:
    """`ts` n times, as a column of its own unit and time zone (what a frame built with
    the scalar would hold, without the frame constructor's broadcasting). A read-only
    view of a block kept per instant: every request of a snapshot ranks as of one."""
    return _repeated_block(ts, max(1024, 1 << max(n - 1, 0).bit_length()))[:n]


@functools.lru_cache(maxsize=16)
def _repeated_block(ts: pd.Timestamp, n: int) -> ExtensionArray:
    naive = ts if ts.tz is None else ts.tz_convert(None)
    index = pd.DatetimeIndex(np.full(n, naive.asm8))
    block = (index if ts.tz is None else index.tz_localize("UTC").tz_convert(ts.tz)).array
    # shared: a write would change other frames. The block's own datetime64 values are
    # made read-only: np.asarray(block) would convert a zoned block to Timestamp objects
    # first (0.5 s for the 262,144 rows of an offline batch)
    values = getattr(block, "_ndarray", None)
    (np.asarray(block) if values is None else values).flags.writeable = False
    return block
