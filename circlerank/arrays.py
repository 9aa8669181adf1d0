"""Array kernels shared by features, training and ranking: integer codes of ids, rows
grouped by code, orderings by user then score, ranks within runs, distinct rows.

A request from the API ranks one user; several kernels take a shortcut then, and
`one_user` says when: a user-code array of all zeros (codes in id order) is one user.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def one_user(codes: np.ndarray) -> bool:
    """Whether user codes (in id order, from 0) hold a single user: all zero."""
    return not codes.any()


def user_codes(user: np.ndarray) -> np.ndarray:
    """Integer codes of user ids, in id order; a one-user request, the API's case,
    skips the hashing."""
    if len(user) and (user == user[0]).all():
        return np.zeros(len(user), dtype=np.int64)
    return pd.factorize(user, sort=True)[0].astype(np.int64)


def rows_by(codes: np.ndarray) -> list[np.ndarray]:
    """Row indices grouped by integer code (one array per code, rows in order)."""
    if len(codes) and (codes == codes[0]).all():  # one group (one user): no sort
        return [np.arange(len(codes))]
    by_code = np.argsort(codes, kind="stable")
    ordered = codes[by_code]
    return np.split(by_code, np.flatnonzero(ordered[1:] != ordered[:-1]) + 1) if len(codes) else []


def best_first(users: np.ndarray, item: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Indices by user (integer codes in id order), then score descending; ties broken
    by item id so pages are stable: np.lexsort((item ids, -score, users))."""
    users = np.asarray(users)
    order, tied, run = _by_user_then_unstable(users, -np.asarray(score, dtype=np.float64))
    if len(tied):  # only the tied rows' ids are sorted, within each run of ties
        rows = order[tied]
        ids = pd.factorize(item[rows], sort=True)[0]
        order[tied] = rows[np.lexsort((rows, ids, run))]
    return order


def by_user_then(users: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Indices by user code, then `key` ascending, then row: np.lexsort((key, users))."""
    users, key = np.asarray(users), np.asarray(key)
    if len(users) > 1 and one_user(users):  # the API's case: one stable sort
        return np.argsort(key, kind="stable")
    order, tied, run = _by_user_then_unstable(users, key)
    if len(tied):  # rows within each run of ties in row order
        rows = order[tied]
        order[tied] = rows[np.lexsort((rows, run))]
    return order


def _by_user_then_unstable(
    users: np.ndarray, key: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices by user code, then `key` ascending, in any order among rows of one user
    with equal keys (NaN keys of a user count as equal, as np.lexsort sorts them); the
    positions in that order of such tied rows, ascending; and for each, a number shared
    by the rows it is tied with (increasing along the order). Numpy's default sort is
    about twice as fast as its stable sort on floats (vectorized on x86), and codes of
    up to 2**15 users then sort by radix."""
    none = np.empty(0, dtype=np.intp)
    if len(users) < 2:
        return np.arange(len(users)), none, none
    single = one_user(users)
    if single:
        order = np.argsort(key)
    elif users.min() < 0 or users.max() >= 2**15:
        order = np.lexsort((key, users))
    else:
        first = np.argsort(key)
        order = first[np.argsort(users[first].astype(np.int16), kind="stable")]
    ordered = key[order]
    same = ordered[1:] == ordered[:-1]
    if key.dtype.kind == "f":
        missing = np.isnan(ordered)
        same |= missing[1:] & missing[:-1]
    if not single:
        same &= users[order][1:] == users[order][:-1]
    if not same.any():
        return order, none, none
    # np.concatenate, not np.r_: a request makes dozens of these, and np.r_ costs 4x
    tied = np.flatnonzero(np.concatenate((same, [False])) | np.concatenate(([False], same)))
    return order, tied, np.cumsum(np.concatenate(([True], ~same)))[tied]


def ranks_within(sorted_users: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal users (rows already sorted by user)."""
    n = len(sorted_users)
    starts = np.flatnonzero(np.concatenate(([True], sorted_users[1:] != sorted_users[:-1])))
    return np.arange(n) - np.repeat(starts, np.diff(np.concatenate((starts, [n]))))


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


def rows_by_value(column: pd.Series) -> dict[str, np.ndarray]:
    """value -> the rows holding it, ascending (missing values hold none)."""
    codes, values = pd.factorize(column)
    present = np.flatnonzero(codes >= 0)
    groups = (present[rows] for rows in rows_by(codes[present]))
    return dict(zip(values.tolist(), groups, strict=True))


def rows_of_values(rows_by_value: dict[str, np.ndarray], values: np.ndarray) -> np.ndarray:
    """The rows of any of `values`, ascending."""
    found = [
        rows_by_value[v]
        for v in pd.unique(np.asarray(values, dtype=object)).tolist()
        if v in rows_by_value
    ]
    return np.sort(np.concatenate(found)) if found else np.empty(0, dtype=np.intp)
