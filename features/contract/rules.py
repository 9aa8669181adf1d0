"""Row rules of the data contract: each bad row gets exactly one reason code.

Reason codes are `<rule>:<column>` (e.g. `missing:user_id`, `unknown_id:merchant_id`,
`out_of_range:score`, `after_as_of:ts`) or `duplicate_key`. Rules run in a fixed
order and a row keeps the first reason it gets. Duplicates are judged last, among
rows that passed every other rule, so the first *valid* row of a key is kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .schema import Allowed, ForeignKey, Range, TableSpec

DUPLICATE_KEY = "duplicate_key"


@dataclass(frozen=True)
class RowVerdict:
    """Which rows of one table are accepted, and the reason for every other row."""

    accepted: np.ndarray  # bool per row
    reasons: np.ndarray  # object per row: None where accepted

    def counts(self) -> dict[str, int]:
        bad = self.reasons[~self.accepted]
        names, counts = np.unique(bad.astype(str), return_counts=True)
        return {str(n): int(c) for n, c in zip(names, counts, strict=True)}


def _range_violation(values: pd.Series, rule: Range) -> np.ndarray:
    x = values.to_numpy(dtype=float, na_value=np.nan)
    bad = np.zeros(len(x), dtype=bool)
    with np.errstate(invalid="ignore"):
        if rule.low is not None:
            bad |= (x <= rule.low) if rule.low_open else (x < rule.low)
        if rule.high is not None:
            bad |= (x >= rule.high) if rule.high_open else (x > rule.high)
    return bad


def _allowed_violation(frame: pd.DataFrame, rule: Allowed) -> np.ndarray:
    values = frame[rule.column]
    present = values.notna().to_numpy()
    if rule.by is None:
        return present & ~values.isin(rule.values).to_numpy()
    bad = np.zeros(len(frame), dtype=bool)
    groups = frame[rule.by]
    for group, allowed in rule.values_by.items():
        in_group = (groups == group).fillna(False).to_numpy(dtype=bool)
        bad |= in_group & present & ~values.isin(allowed).to_numpy()
    return bad


def _foreign_key_violation(
    frame: pd.DataFrame, key: ForeignKey, parent_keys: pd.Index | None
) -> np.ndarray:
    values = frame[key.column]
    bad = values.notna().to_numpy(dtype=bool, copy=True)
    if parent_keys is not None:
        bad &= ~values.isin(parent_keys).to_numpy()
    if key.when is not None:
        column, value = key.when
        bad &= (frame[column] == value).fillna(False).to_numpy(dtype=bool)
    return bad


def _row_checks(
    frame: pd.DataFrame,
    spec: TableSpec,
    parent_keys: Mapping[str, pd.Index | None],
    as_of: pd.Timestamp,
) -> Iterator[tuple[str, np.ndarray]]:
    """(reason, violation mask) pairs, in the order reasons take precedence."""
    for col in spec.required_columns:
        yield f"missing:{col.name}", frame[col.name].isna().to_numpy()
    for rule in spec.ranges:
        yield f"out_of_range:{rule.column}", _range_violation(frame[rule.column], rule)
    for allowed in spec.allowed:
        yield f"unknown_value:{allowed.column}", _allowed_violation(frame, allowed)
    for ts in spec.timestamp_columns:
        yield f"after_as_of:{ts}", (frame[ts] > as_of).fillna(False).to_numpy(dtype=bool)
    for key in spec.foreign_keys:
        parents = parent_keys.get(key.parent)
        yield f"unknown_id:{key.column}", _foreign_key_violation(frame, key, parents)


def judge_rows(
    frame: pd.DataFrame,
    spec: TableSpec,
    parent_keys: Mapping[str, pd.Index | None],
    as_of: pd.Timestamp,
) -> RowVerdict:
    """Apply every contract rule of `spec` to `frame`.

    `parent_keys` maps a parent table to the primary keys of its accepted rows; a
    parent that is absent from the data directory maps to an empty index.
    """
    n = len(frame)
    code = np.zeros(n, dtype=np.int32)  # 0 = no reason yet, i = reasons[i - 1]
    names: list[str] = []
    for reason, violated in _row_checks(frame, spec, parent_keys, as_of):
        fresh = violated & (code == 0)
        if fresh.any():
            names.append(reason)
            code[fresh] = len(names)
    survivors = code == 0
    if survivors.any():
        dup = np.zeros(n, dtype=bool)
        dup[survivors] = frame.loc[survivors, list(spec.primary_key)].duplicated(keep="first")
        if dup.any():
            names.append(DUPLICATE_KEY)
            code[dup] = len(names)
    lookup = np.array([None, *names], dtype=object)
    return RowVerdict(accepted=code == 0, reasons=lookup[code])
