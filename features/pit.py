"""Point-in-time aggregation: the one primitive every feature view is built from.

A *stream* is a frame of keyed, timestamped rows with numeric value columns (a payment,
an impression, a +1/-1 membership change). A *query* asks for a key as of a time t.
The answer only ever uses stream rows with time strictly before t:

- windowed sums over [t - w, t) (or all history before t),
- exponentially decayed sums, each row weighted 2^-((t - time) / half_life),
- the latest value strictly before t.

Sums are per-key cumulative sums; a query reads the last row of its key strictly before
t (one `np.searchsorted`), so training (t = each impression's time) and serving
(t = now) run the same code. Streams over CHUNK_ROWS rows are answered one range of
keys at a time (the same result, with working arrays that fit in cache), and queries
that all ask as of one time (a snapshot) are answered by one pass with no sort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .codes import positions
from .contract.coerce import TS_DTYPE

AS_OF = "as_of"
CHUNK_ROWS = 1 << 19  # stream rows answered together: their working arrays fit in cache
LN2 = float(np.log(2.0))
TS = TS_DTYPE


def window_name(window: pd.Timedelta | None) -> str:
    if window is None:
        return "all"
    days = window / pd.Timedelta(days=1)
    return f"{days:g}d" if days >= 1 else f"{window / pd.Timedelta(hours=1):g}h"


@dataclass(frozen=True)
class Sums:
    """Sum each value column over each window (None = all history before t)."""

    values: tuple[str, ...]
    windows: tuple[pd.Timedelta | None, ...] = (None,)

    def columns(self) -> list[str]:
        return [f"{v}_{window_name(w)}" for w in self.windows for v in self.values]


@dataclass(frozen=True)
class DecayedSums:
    """Sum each value column with weight 2^-(age / half_life), age = t - row time."""

    values: tuple[str, ...]
    half_life: pd.Timedelta

    def columns(self) -> list[str]:
        return [f"{v}_decay{window_name(self.half_life)}" for v in self.values]


@dataclass(frozen=True)
class Latest:
    """The value columns of the latest row strictly before t (NaN when none)."""

    values: tuple[str, ...]

    def columns(self) -> list[str]:
        return [f"{v}_latest" for v in self.values]


Aggregation = Sums | DecayedSums | Latest


class _Index:
    """A stream sorted by (key, time) with an int64 search key per row.

    Keys are factorized to integers shared with the queries, times are ranked among the
    stream's distinct times, and key * (ranks + 1) + rank orders rows exactly as
    (key, time) does, so one `np.searchsorted` finds the last row before a query time.
    """

    def __init__(
        self,
        stream: pd.DataFrame,
        time: str,
        queries: pd.DataFrame,
        given: tuple[np.ndarray, np.ndarray],
    ):
        codes, q_codes = given
        times = epoch_us(stream[time])
        order = np.lexsort((times, codes))
        self.order = order
        self.codes = codes[order]
        # ranks from one sort of the times: a searchsorted of rows in key order would
        # jump around the distinct times and miss the cache on every probe
        by_time = np.argsort(times, kind="stable")
        ordered = times[by_time]
        new = np.r_[True, ordered[1:] != ordered[:-1]] if len(ordered) else ordered > 0
        self.distinct = ordered[new]
        self.stride = np.int64(len(self.distinct) + 1)
        rank = np.empty(len(times), dtype=np.int64)
        rank[by_time] = np.cumsum(new) - 1
        self.search = self.codes * self.stride + rank[order]
        self.q_codes = q_codes
        q_times = epoch_us(queries[AS_OF])
        # queries in (key, as_of) and in as_of order; shifting every as_of by a window w
        # keeps both orders, so they serve every window
        self.q_order = np.lexsort((q_times, q_codes))
        self.q_by_time = np.argsort(q_times, kind="stable")

    def last_before(self, at: pd.Series) -> np.ndarray:
        """Row (in sorted order) of the last stream row of each query's key before `at`;
        -1 where there is none."""
        q_times = epoch_us(at)
        q_rank = np.empty(len(q_times), dtype=np.int64)
        by_time = self.q_by_time
        q_rank[by_time] = np.searchsorted(self.distinct, q_times[by_time], side="left")
        needles = self.q_codes * self.stride + q_rank
        # sorted needles walk the haystack in order: far fewer cache misses
        order = self.q_order
        pos = np.empty(len(needles), dtype=np.int64)
        pos[order] = np.searchsorted(self.search, needles[order], side="left") - 1
        hit = pos >= 0
        hit[hit] = self.codes[pos[hit]] == self.q_codes[hit]
        return np.where(hit, pos, -1)


def _factorize(
    stream: pd.DataFrame, queries: pd.DataFrame, keys: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """One int64 code per distinct key tuple, shared by stream and queries.

    Query keys that arrive categorical (as `QueryGroups` hands them to views) keep their
    codes: only the stream is hashed against their categories, whose hash table pandas
    builds once and every view asking the same keys reuses."""
    n = len(stream)
    codes = np.zeros(n + len(queries), dtype=np.int64)
    for key in keys:
        asked = queries[key]
        if isinstance(asked.dtype, pd.CategoricalDtype):
            known = len(asked.cat.categories)
            # stream keys no query asks share one code; a query's missing key matches none
            mine = positions(stream[key], asked.cat.categories)
            theirs = asked.cat.codes.to_numpy(dtype=np.int64)
            column = np.concatenate(
                [np.where(mine < 0, known, mine), np.where(theirs < 0, known + 1, theirs)]
            )
            cardinality = known + 2
        else:
            both = pd.concat([stream[key], asked], ignore_index=True).astype("str")
            column, uniques = pd.factorize(both, use_na_sentinel=False)
            cardinality = len(uniques) + 1
        if cardinality and codes.max(initial=0) > np.iinfo(np.int64).max // cardinality:
            raise OverflowError(f"too many distinct keys to combine in {keys}")
        codes = codes * np.int64(cardinality) + column
    return codes[:n], codes[n:]


def epoch_us(times: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 microseconds since the Unix epoch."""
    if times.dtype == TS:  # already microseconds in UTC (a request's as_of column)
        return np.asarray(times.array.asi8)
    return pd.DatetimeIndex(times.astype(TS)).asi8


def days(times: pd.Series) -> np.ndarray:
    """UTC timestamps as float days since the Unix epoch."""
    return epoch_us(times) / 86_400e6


def _take(matrix: np.ndarray, rows: np.ndarray, missing: float) -> np.ndarray:
    if len(matrix) == 0:
        return np.full((len(rows), matrix.shape[1]), missing)
    out = matrix[np.maximum(rows, 0)]
    out[rows < 0] = missing
    return out


def _segment_cumsum(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Cumulative sums down the rows of each key; restarting per key keeps every key's
    sums independent of which other keys share its partition (bit-equal engines)."""
    if values.shape[1] == 0 or len(codes) == 0:
        return np.zeros_like(values)
    return pd.DataFrame(values).groupby(codes, sort=False).cumsum().to_numpy(np.float64)


@dataclass(frozen=True)
class _Question:
    """One point-in-time question, resolved: the stream, its queries, what to aggregate,
    the stream's time column, the decay anchor and every row's integer key."""

    stream: pd.DataFrame
    queries: pd.DataFrame
    aggregations: Sequence[Aggregation]
    time: str
    reference: pd.Timestamp
    codes: tuple[np.ndarray, np.ndarray]


def point_in_time(
    stream: pd.DataFrame,
    queries: pd.DataFrame,
    keys: Sequence[str],
    aggregations: Sequence[Aggregation],
    time: str = "ts",
    reference: pd.Timestamp | None = None,
    codes: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Answer every query (key columns + `as_of`) from `stream` with rows before as_of.

    Returns a frame aligned with `queries` (same index), one column per aggregate.
    `reference` anchors the decay arithmetic; pass the same value everywhere results
    must agree bit for bit (it only matters to rounding). `codes` may give the integer
    key of every stream and query row instead of the key columns.
    """
    keys = list(keys)
    at = queries[AS_OF].astype(TS)
    if reference is None:
        reference = at.max() if len(at) else pd.Timestamp(0, tz="UTC")
    codes = codes if codes is not None else _factorize(stream, queries, keys)
    q_times = epoch_us(at)
    question = _Question(stream, queries, aggregations, time, reference, codes)
    if len(q_times) and q_times.min() == q_times.max():
        return _answer_at_one_time(question)
    if len(stream) > CHUNK_ROWS:
        return _by_key_ranges(question)
    return _answer(question)


def _answer(q: _Question) -> pd.DataFrame:
    """`point_in_time` over one sorted index of the whole stream."""
    stream, queries, aggregations, time = q.stream, q.queries, q.aggregations, q.time
    reference, codes = q.reference, q.codes
    index = _Index(stream, time, queries, codes)
    at = queries[AS_OF].astype(TS)
    out: dict[str, np.ndarray] = {}
    for agg in aggregations:
        values = stream[list(agg.values)].to_numpy(dtype=np.float64, na_value=np.nan)[index.order]
        if isinstance(agg, Latest):
            found = _take(values, index.last_before(at), np.nan)
            out.update(zip(agg.columns(), found.T, strict=True))
        elif isinstance(agg, Sums):
            cum = _segment_cumsum(np.nan_to_num(values), index.codes)
            upto = _take(cum, index.last_before(at), 0.0)
            for window in agg.windows:
                total = upto
                if window is not None:
                    total = upto - _take(cum, index.last_before(at - window), 0.0)
                names = [f"{v}_{window_name(window)}" for v in agg.values]
                out.update(zip(names, total.T, strict=True))
        else:
            weight, scale = _decay(agg, epoch_us(stream[time])[index.order], reference, at)
            cum = _segment_cumsum(np.nan_to_num(values) * weight[:, None], index.codes)
            upto = _take(cum, index.last_before(at), 0.0)
            out.update(zip(agg.columns(), (upto * scale[:, None]).T, strict=True))
    return pd.DataFrame(out, index=queries.index)


def _answer_at_one_time(q: _Question) -> pd.DataFrame:
    """`point_in_time` when every query asks as of one time t (a snapshot, a request):
    sums over the rows before t per key, in one linear pass, no sort. The same rows and
    weights as the sorted path, added in another order (equal to rounding)."""
    stream, queries, aggregations, time = q.stream, q.queries, q.aggregations, q.time
    reference, codes = q.reference, q.codes
    at = queries[AS_OF].astype(TS)
    t = epoch_us(at.iloc[:1])[0]
    stream_codes, query_codes = codes
    n = len(stream)
    both = np.concatenate([stream_codes, query_codes])
    groups = int(both.max(initial=-1)) + 1
    if groups > 2 * len(both) + 1024:  # sparse codes (key pairs): make them dense
        both, distinct = pd.factorize(both)
        groups = len(distinct)
    row_key, query_key = both[:n], both[n:]
    times = epoch_us(stream[time])
    before = times < t
    out: dict[str, np.ndarray] = {}
    for agg in aggregations:
        values = stream[list(agg.values)].to_numpy(dtype=np.float64, na_value=np.nan)
        if isinstance(agg, Latest):
            rows = np.flatnonzero(before)
            newest = np.full(groups, np.iinfo(np.int64).min)
            np.maximum.at(newest, row_key[rows], times[rows])
            rows = rows[times[rows] == newest[row_key[rows]]]
            last = np.full(groups, -1)
            np.maximum.at(last, row_key[rows], rows)  # among rows tied at that time: the last
            found = _take(values, last[query_key], np.nan)
            out.update(zip(agg.columns(), found.T, strict=True))
            continue
        if isinstance(agg, Sums):
            starts = [t - _us(w) if w is not None else None for w in agg.windows]
            names = [[f"{v}_{window_name(w)}" for v in agg.values] for w in agg.windows]
            weighted, scale = np.nan_to_num(values), np.ones(len(queries))
        else:
            weight, scale = _decay(agg, times, reference, at)
            weighted = np.nan_to_num(values) * weight[:, None]
            starts, names = [None], [agg.columns()]
        for since, columns in zip(starts, names, strict=True):
            mask = before if since is None else before & (times >= since)
            for j, column in enumerate(columns):
                totals = np.bincount(row_key[mask], weighted[mask, j], minlength=groups)
                out[column] = totals[query_key] * scale
    return pd.DataFrame(out, index=queries.index)


def _decay(
    agg: DecayedSums, times: np.ndarray, reference: pd.Timestamp, at: pd.Series
) -> tuple[np.ndarray, np.ndarray]:
    """Row weights 2^((time - reference) / half_life) for stream times (int64 us), and
    per query the factor 2^-((as_of - reference) / half_life) that turns their sums into
    sums weighted by 2^-(age / half_life). Anchored at the reference so the exponents
    stay small; rows far after it are never looked up, the clip only keeps their
    (unused) sums finite."""
    rate = LN2 / (agg.half_life / pd.Timedelta(seconds=1))
    age = (times - epoch_us(pd.Series([reference]))[0]) / 1e6
    weight = np.exp(np.minimum(rate * age.astype(np.float64), 700.0))
    q_age = ((at - reference) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64)
    return weight, np.exp(-rate * q_age)


def _us(window: pd.Timedelta) -> int:
    return int(window / pd.Timedelta(microseconds=1))


def _by_key_ranges(q: _Question) -> pd.DataFrame:
    """`point_in_time` over ranges of key codes of at most about CHUNK_ROWS stream rows
    each. A key's answers only ever read its own rows, so the result is identical; the
    sorts, gathers and searches of a range stay in the CPU cache, where those of the
    whole stream would not (cost then grows faster than the data)."""
    stream, queries, aggregations, time = q.stream, q.queries, q.aggregations, q.time
    stream_codes, query_codes = q.codes
    parts = -(-len(stream) // CHUNK_ROWS)
    scale = parts / (max(stream_codes.max(initial=0), query_codes.max(initial=0)) + 1.0)

    def part(codes: np.ndarray) -> np.ndarray:
        # monotone in the code, so each part is a range of keys; uint16 parts sort in
        # one linear (radix) pass
        return np.minimum(codes * scale, parts - 1).astype(np.uint16)

    part_of_row, part_of_query = part(stream_codes), part(query_codes)
    rows = np.argsort(part_of_row, kind="stable")
    asked = np.argsort(part_of_query, kind="stable")
    row_ends = np.searchsorted(part_of_row[rows], np.arange(1, parts + 1), side="left")
    query_ends = np.searchsorted(part_of_query[asked], np.arange(1, parts + 1), side="left")
    columns = [time, *dict.fromkeys(v for a in aggregations for v in a.values)]
    numeric = stream[columns]
    pieces, placed = [], []
    row_start = query_start = 0
    for row_end, query_end in zip(row_ends, query_ends, strict=True):
        here, mine = rows[row_start:row_end], asked[query_start:query_end]
        row_start, query_start = row_end, query_end
        if len(mine) == 0:
            continue
        got = _answer(
            replace(
                q,
                stream=numeric.iloc[here],
                queries=queries[[AS_OF]].iloc[mine],
                codes=(stream_codes[here], query_codes[mine]),
            )
        )
        pieces.append(got.to_numpy(dtype=np.float64))
        placed.append(mine)
    names = [c for a in aggregations for c in a.columns()]
    values = np.empty((len(queries), len(names)))
    for piece, mine in zip(pieces, placed, strict=True):
        values[mine] = piece
    return pd.DataFrame(values, columns=names, index=queries.index, copy=False)


def sums_by_level(
    stream: pd.DataFrame,
    queries: pd.DataFrame,
    key: str,
    by: str,
    levels: Sequence[str],
    values: tuple[str, ...],
    windows: tuple[pd.Timedelta | None, ...],
) -> dict[str, np.ndarray]:
    """Windowed sums per level of `by` (e.g. per merchant category) for every query:
    {"<value>_<window>": array of shape (queries, levels)}. Vectors stay sparse: the
    stream has one row per fact, and each query is asked only about the levels its key
    has any row for (the rest are zero), integer-coded, never expanded as strings."""
    n, k = len(queries), len(levels)
    key_codes, q_key = _factorize(stream, queries, [key])
    stream_level = positions(stream[by].astype("str"), pd.Index(levels, dtype="str"))
    known = stream_level >= 0
    stream = stream[known]
    pair = key_codes[known] * k + stream_level[known]
    # the (key, level) pairs that occur, grouped by key: each query asks for its key's
    seen = np.zeros(int(pair.max(initial=-1)) + 1, dtype=bool)
    seen[pair] = True
    present = np.flatnonzero(seen)
    first = np.searchsorted(present, q_key * k, side="left")
    last = np.searchsorted(present, q_key * k + k, side="left")
    row = np.repeat(np.arange(n), last - first)
    slot = np.arange(len(row)) - np.repeat(np.cumsum(last - first) - (last - first), last - first)
    asked = present[np.repeat(first, last - first) + slot]
    at = epoch_us(queries[AS_OF]).astype("datetime64[us]")[row]
    expanded = pd.DataFrame({AS_OF: pd.Series(at).dt.tz_localize("UTC")})
    got = point_in_time(stream, expanded, [key, by], [Sums(values, windows)], codes=(pair, asked))
    out = {}
    for column in got.columns:
        dense = np.zeros((n, k))
        dense[row, asked % k] = got[column].to_numpy()
        out[column] = dense
    return out
