"""Integer codes of string ids: positions in an id column (hash each id once, natively,
then look values up by position instead of mapping strings column by column), and one
code per row for keys of several columns."""

from __future__ import annotations

import numpy as np
import pandas as pd


def positions(ids: pd.Series | pd.Index, index: pd.Index) -> np.ndarray:
    """The position of each id in `index`, -1 where absent (and for missing ids).

    The ids are factorized first: Arrow hashes strings natively, and only the distinct
    ids go through `Index.get_indexer`, which converts a large string array to Python
    objects before hashing it."""
    local, distinct = pd.factorize(ids)
    if isinstance(index.dtype, pd.StringDtype) and distinct.dtype != index.dtype:
        # object ids meet a str index by converting the whole index on every call;
        # converting the (fewer) distinct ids is cheaper (5x for 1,000 of 13,000)
        distinct = distinct.astype(index.dtype)
    placed = index.get_indexer(distinct)
    if len(placed) == 0:
        return np.full(len(local), -1, dtype=np.int64)
    return np.where(local >= 0, placed[np.maximum(local, 0)], -1).astype(np.int64)


def take(column: pd.Series, rows: np.ndarray) -> pd.Series:
    """`column` at `rows` (missing where rows is -1), as a fresh default-indexed Series."""
    return pd.Series(column.array.take(rows, allow_fill=True), name=column.name)


def combined_codes(codes: list[np.ndarray]) -> np.ndarray:
    """One int64 per row, equal exactly when every column's code is (codes >= -1)."""
    combined = np.zeros(len(codes[0]), dtype=np.int64)
    for code in codes:
        combined = combined * (int(code.max(initial=-1)) + 2) + code + 1
    return combined


def distinct_rows(codes: list[np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """A first row of each distinct combination of the codes over n rows, and each
    row's combination; all rows are one combination when there are no codes."""
    if not codes:
        return np.zeros(min(n, 1), dtype=np.intp), np.zeros(n, dtype=np.intp)
    combined = combined_codes(codes)
    top = int(combined.max(initial=0))
    if top > 4 * n + 1024:  # sparse combinations (many users' pairs): sort
        _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
        return first, inverse
    # few possible combinations (one user's request): a mark per combination, numbered
    # in ascending order as np.unique numbers them, without the sort
    present = np.zeros(top + 1, dtype=bool)
    present[combined] = True
    inverse = (np.cumsum(present) - 1)[combined]
    first = np.full(int(present.sum()), n, dtype=np.intp)
    np.minimum.at(first, inverse, np.arange(n))
    return first, inverse
