"""The simulated world's contract tables as a deployment would hold them at an instant:
only rows that happened before it, and no leave or deletion that has not happened yet.
The day loop writes some rows ahead (a day's posts and organic joins at its start, a
post's later deletion); this view cuts them."""

from __future__ import annotations

import pandas as pd

from evaluation.simulator.loop import DayLoop
from evaluation.simulator.writer import log_tables, static_tables
from features.contract import ContractData
from features.contract.coerce import COERCERS
from features.contract.report import ValidationReport
from features.contract.schema import TABLE_BY_NAME, TABLES


class WorldSoFar:
    """Builds the tables of a running day loop as of instants; the tables the loop does
    not change are typed once."""

    def __init__(self, loop: DayLoop) -> None:
        self.loop = loop
        self._static = {
            name: _typed(name, frame) for name, frame in static_tables(loop.world).items()
        }

    def at(self, instant: pd.Timestamp) -> ContractData:
        tables = {**self._static}
        logs = self.loop.logs()
        for name, frame in log_tables(self.loop.world, logs).items():
            tables[name] = _typed(name, frame)
        present = {}
        for spec in TABLES:
            if spec.name in tables:
                present[spec.name] = cut(spec.name, tables[spec.name], instant)
        absent = [spec.name for spec in TABLES if spec.name not in present]
        report = ValidationReport(as_of=instant, quarantine_dir="", absent=absent)
        return ContractData(tables=present, report=report)


def cut(name: str, frame: pd.DataFrame, instant: pd.Timestamp) -> pd.DataFrame:
    """`frame` as known at `instant`: rows that came into being before it, without the
    later changes (a leave, a deletion) that had not happened yet."""
    spec = TABLE_BY_NAME[name]
    if spec.known_at is not None:
        known = (frame[spec.known_at] < instant).to_numpy(dtype=bool)
        frame = frame[known].reset_index(drop=True)
    ends = spec.ends
    if ends:
        frame = frame.copy()
        for column in ends:
            frame[column] = frame[column].where(frame[column] < instant)
    return frame


def _typed(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with the contract's types, as `load_contract` reads them."""
    spec = TABLE_BY_NAME[name]
    out = {c.name: COERCERS[c.kind](frame[c.name], f"<{name}>", c.name) for c in spec.columns}
    return pd.DataFrame(out).reset_index(drop=True)
