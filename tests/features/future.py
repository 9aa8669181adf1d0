"""Rewriting the future of a data set: what happens at or after t must not matter."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import ContractData
from features.contract.schema import KNOWN_AT, TABLE_BY_NAME

# facts that end later: after t their end time is unknown (one per table here)
ENDS = {name: spec.ends[0] for name, spec in TABLE_BY_NAME.items() if spec.ends}


def delete_future(data: ContractData, t: pd.Timestamp) -> ContractData:
    tables = {}
    for name, frame in data.tables.items():
        if name in KNOWN_AT:
            frame = frame[frame[KNOWN_AT[name]] < t]
        if name in ENDS:
            frame = frame.assign(**{ENDS[name]: frame[ENDS[name]].where(frame[ENDS[name]] < t)})
        tables[name] = frame.reset_index(drop=True)
    return ContractData(tables=tables, report=data.report)


def scramble_future(data: ContractData, t: pd.Timestamp, seed: int) -> ContractData:
    """Rows known at or after t get random later times and shuffled values."""
    rng = np.random.default_rng(seed)
    tables = {}
    for name, frame in data.tables.items():
        frame = frame.copy()
        if name in KNOWN_AT:
            future = np.flatnonzero((frame[KNOWN_AT[name]] >= t).to_numpy())
            spec = TABLE_BY_NAME[name]
            for col in spec.columns:
                if col.name in spec.primary_key or not len(future):
                    continue
                frame[col.name] = _shuffled(frame[col.name], future, rng)
            frame[KNOWN_AT[name]] = _later(frame[KNOWN_AT[name]], future, t, rng)
        if name in ENDS:
            ends = frame[ENDS[name]]
            future = np.flatnonzero((ends >= t).fillna(False).to_numpy(dtype=bool))
            frame[ENDS[name]] = _later(ends, future, t, rng)
        tables[name] = frame
    return ContractData(tables=tables, report=data.report)


def _shuffled(column: pd.Series, rows: np.ndarray, rng: np.random.Generator) -> pd.Series:
    out = column.copy()
    out.iloc[rows] = column.iloc[rng.permutation(rows)].to_numpy()
    return out


def _later(
    column: pd.Series, rows: np.ndarray, t: pd.Timestamp, rng: np.random.Generator
) -> pd.Series:
    out = column.copy()
    offsets = pd.to_timedelta(rng.integers(0, 20 * 86_400_000_000, len(rows)), unit="us")
    out.iloc[rows] = (t + offsets).to_numpy()
    return out
