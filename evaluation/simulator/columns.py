"""Typed pandas columns from the simulator's integer-coded arrays, in contract dtypes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features.contract.schema import TABLE_BY_NAME

NULL_TS = np.iinfo(np.int64).min  # numpy's NaT


def ts_col(us: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    """Microseconds since the epoch -> UTC timestamps; `null` marks missing values."""
    vals = np.asarray(us, dtype=np.int64)
    if null is not None:
        vals = np.where(null, NULL_TS, vals)
    return pd.Series(vals.view("datetime64[us]")).dt.tz_localize("UTC")


def str_col(values: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    out = pd.Series(values, dtype="str")
    if null is not None:
        out = out.where(~null)
    return out


def int_col(values: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    out = pd.Series(np.asarray(values, dtype=np.int64), dtype="Int64")
    if null is not None:
        out = out.mask(null)
    return out


def contract_frame(table: str, columns: Mapping[str, pd.Series | np.ndarray]) -> pd.DataFrame:
    """Columns in the contract's order; every contract column must be supplied."""
    spec = TABLE_BY_NAME[table]
    names = [c.name for c in spec.columns]
    missing = [n for n in names if n not in columns]
    if missing:
        raise ValueError(f"{table}: no values for {missing}")
    return pd.DataFrame({n: pd.Series(columns[n]).reset_index(drop=True) for n in names})
