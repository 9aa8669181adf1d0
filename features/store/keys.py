"""Key hashing and key lookup shared by the store's writer and reader.

A table's rows are stored sorted by a 64-bit hash of their key, next to the key strings
themselves, with a bucket index: `starts[b]` is the first row whose hash has the top
bits b, one or two buckets per row. A lookup hashes the requested ids, jumps to their
buckets and steps to the hash inside the (tiny) bucket. Buckets beat `np.searchsorted`
by 5x once the arrays are out of the CPU cache: a binary search is a chain of ~10
dependent cache misses per key, a bucket jump two independent ones.

A hash match is taken as a key match, except among stored keys that share a hash (found
at build time), where the strings decide. So every stored key finds its own row; an
unknown id is wrongly found with probability rows / 2**64 (~1e-13 for a million rows),
or never when the caller asks to `verify` the strings, for ~150 µs more per 1,000 ids.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from circlerank.errors import FeatureStoreError

# SipHash-2-4 of the UTF-8 bytes with pandas' default key: stable across processes and
# runs, unlike Python's salted hash(). The manifest records PROBE's hash so a reader with
# a pandas that hashes differently refuses the store instead of missing every key.
PROBE = "circlerank-online-store"
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)


def hash_ids(ids: np.ndarray) -> np.ndarray:
    """uint64 hashes of a 1-d object array of ids (tests replace this to force collisions)."""
    return pd.util.hash_array(ids, categorize=False)


def _mix(h: np.ndarray) -> np.ndarray:
    # the splitmix64 finaliser, so that combined hashes of pairs stay uniform
    h = (h ^ (h >> np.uint64(30))) * _MIX_1
    h = (h ^ (h >> np.uint64(27))) * _MIX_2
    return h ^ (h >> np.uint64(31))


def key_hashes(columns: Sequence[np.ndarray]) -> np.ndarray:
    """One uint64 per row for a key of one or more id columns (order matters)."""
    return _combined([HashedIds.of(column).hashes for column in columns])


def _combined(column_hashes: Sequence[np.ndarray]) -> np.ndarray:
    hashed = column_hashes[0]
    for column in column_hashes[1:]:
        hashed = _mix(hashed * _GOLDEN + column)
    return hashed


@dataclass(frozen=True, eq=False)
class HashedIds:
    """One key column's ids with their `hash_ids` and whether each is a str (only a str
    can be a stored key), for a caller that asks about the same ids again and again:
    serving keeps them per item key. A store given these for every key column skips
    hashing, a fixed ~25 µs a column plus ~0.1 µs an id; any store accepts them."""

    ids: np.ndarray
    hashes: np.ndarray
    strings: np.ndarray

    @classmethod
    def of(cls, ids: np.ndarray) -> HashedIds:
        strings = _strings(ids)
        if strings is True:
            return cls(ids, hash_ids(ids), np.ones(len(ids), dtype=bool))
        # only the str ids are hashed (the others never match): pandas hashes a mixed
        # array through numpy text, which drops trailing NULs ("7\0" would find "7")
        hashes = np.zeros(len(ids), dtype=np.uint64)
        hashes[strings] = hash_ids(ids[strings])
        return cls(ids, hashes, strings)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index: np.ndarray) -> HashedIds:
        return HashedIds(self.ids[index], self.hashes[index], self.strings[index])

    def repeat(self, n: int) -> HashedIds:
        return HashedIds(
            np.repeat(self.ids, n), np.repeat(self.hashes, n), np.repeat(self.strings, n)
        )

    def concat(self, more: HashedIds) -> HashedIds:
        return HashedIds(
            np.concatenate([self.ids, more.ids]),
            np.concatenate([self.hashes, more.hashes]),
            np.concatenate([self.strings, more.strings]),
        )


def bucket_bits(rows: int) -> int:
    """How many top hash bits pick a bucket: one to two buckets per row."""
    return max(1, (rows - 1).bit_length())


def bucket_starts(hashes: np.ndarray) -> np.ndarray:
    """The bucket index of sorted `hashes`: 2**bits + 1 row offsets."""
    bits = bucket_bits(len(hashes))
    prefixes = hashes >> np.uint64(64 - bits)
    return np.searchsorted(prefixes, np.arange(2**bits + 1, dtype=np.uint64)).astype(np.int64)


def probe_hash() -> str:
    """The hash of PROBE as decimal text, as recorded in a store's manifest."""
    return str(int(key_hashes([np.array([PROBE], dtype=object)])[0]))


def _as_id_array(ids: object, table: str) -> np.ndarray:
    if isinstance(ids, str | bytes):
        raise FeatureStoreError(
            f"table '{table}': ids must be a sequence of ids, got the single value {ids!r}"
        )
    if isinstance(ids, HashedIds):
        return ids.ids
    if isinstance(ids, pd.Series | pd.Index):
        array = ids.to_numpy(dtype=object)
    else:
        array = np.asarray(ids, dtype=object)
    if array.ndim != 1:
        raise FeatureStoreError(
            f"table '{table}': ids must be one-dimensional, got shape {array.shape}"
        )
    return array


def request_keys(ids: object, n_keys: int, table: str) -> list[np.ndarray]:
    """The requested keys as one object array per key column, checked for shape."""
    if n_keys == 1:
        return [_as_id_array(ids, table)]
    if not isinstance(ids, tuple | list) or len(ids) != n_keys:
        raise FeatureStoreError(
            f"table '{table}' is keyed by {n_keys} columns: pass a tuple of {n_keys} "
            "equal-length id sequences, e.g. (user_ids, circle_ids)"
        )
    columns = [_as_id_array(part, table) for part in ids]
    lengths = {len(column) for column in columns}
    if len(lengths) != 1:
        raise FeatureStoreError(
            f"table '{table}': key sequences have different lengths {[len(c) for c in columns]}"
        )
    return columns


def hashed_columns(ids: object) -> list[HashedIds] | None:
    """The requested key columns' HashedIds when the caller passed them for every
    column (checked for shape by `request_keys`), else None."""
    columns = list(ids) if isinstance(ids, tuple | list) else [ids]
    hashed = [c for c in columns if isinstance(c, HashedIds)]
    return hashed if columns and len(hashed) == len(columns) else None


def locate(
    hashes: np.ndarray,
    starts: np.ndarray,
    keys: Sequence[np.ndarray],
    queries: Sequence[np.ndarray],
    *,
    collisions: bool,
    verify: bool,
    hashed: Sequence[HashedIds] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of the queried keys and whether each was found.

    `hashes` is sorted, `starts` is its `bucket_starts` and `keys` are the stored key
    columns in the same row order. Positions of keys not found are valid row numbers
    whose values must be ignored. `collisions` says whether two stored keys share a
    hash; `verify` compares the stored strings of every hit. `hashed` are the queries'
    hashes, when the caller kept them.
    """
    count = len(queries[0])
    if len(hashes) == 0 or count == 0:
        return np.zeros(count, dtype=np.intp), np.zeros(count, dtype=bool)
    if hashed is None:
        hashed = [HashedIds.of(query) for query in queries]
    asked = _combined([h.hashes for h in hashed])
    pos = _first_not_below(hashes, starts, asked)
    hit = hashes[pos] == asked
    for stored, query, known in zip(keys, queries, hashed, strict=True):
        # only a str can be a stored key
        hit &= _equal(stored[pos], query) if verify else known.strings
    if collisions:
        _resolve_collisions(hashes, keys, queries, asked, pos, hit)
    return pos, hit


def _first_not_below(hashes: np.ndarray, starts: np.ndarray, asked: np.ndarray) -> np.ndarray:
    """For each asked hash, the first row of its bucket whose hash is not smaller."""
    bucket = (asked >> np.uint64(64 - bucket_bits(len(hashes)))).astype(np.intp)
    pos = starts[bucket]
    end = starts[bucket + 1]
    todo = np.flatnonzero(pos < end)
    while todo.size:
        todo = todo[hashes[pos[todo]] < asked[todo]]
        pos[todo] += 1
        todo = todo[pos[todo] < end[todo]]
    # a position past its bucket is not found; clamping keeps it a valid row number
    return np.minimum(pos, len(hashes) - 1, out=pos)


def _strings(ids: np.ndarray) -> np.ndarray | Literal[True]:
    if pd.api.types.infer_dtype(ids, skipna=False) == "string":
        return True
    return np.fromiter((isinstance(i, str) for i in ids), dtype=bool, count=len(ids))


def _same(stored: object, asked: object) -> bool:
    return isinstance(asked, str) and stored == asked


def _equal(stored: np.ndarray, asked: np.ndarray) -> np.ndarray:
    """Elementwise `stored == asked` for str arrays, False where `asked` is not a str."""
    left = stored.tolist()
    right = asked.tolist()
    try:
        return np.fromiter(map(operator.eq, left, right), dtype=bool, count=len(left))
    except TypeError:
        # a pd.NA among the ids has no truth value; the careful path is twice as slow
        return np.fromiter(map(_same, left, right), dtype=bool, count=len(left))


def _resolve_collisions(
    hashes: np.ndarray,
    keys: Sequence[np.ndarray],
    queries: Sequence[np.ndarray],
    asked: np.ndarray,
    pos: np.ndarray,
    hit: np.ndarray,
) -> None:
    """Settle, by comparing strings, the queries whose hash several stored keys share."""
    after = np.minimum(pos + 1, len(hashes) - 1)
    shared = (hashes[pos] == asked) & (hashes[after] == asked) & (after > pos)
    for i in np.flatnonzero(shared):
        # pos is the first row of the run of equal hashes; walk the run
        row, hit[i] = int(pos[i]), False
        while row < len(hashes) and hashes[row] == asked[i]:
            if all(_same(k[row], q[i]) for k, q in zip(keys, queries, strict=True)):
                pos[i], hit[i] = row, True
                break
            row += 1
