"""What the event log stores and the contract every backend keeps.

One row per event: the data contract's `events` columns, plus where the row came from
(`origin`: "served" for impressions the server showed, "posted" for events clients sent)
and, for served rows, the experiment, strategy, model version and score behind them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Protocol

import pandas as pd

CONTRACT_COLUMNS = (
    "event_id",
    "ts",
    "user_id",
    "surface",
    "item_id",
    "action",
    "request_id",
    "position",
    "propensity",
    "arm",
)


@dataclass(frozen=True)
class LoggedEvent:
    event_id: str
    ts: pd.Timestamp  # UTC-aware
    user_id: str
    surface: str
    item_id: str
    action: str
    origin: str  # "served" or "posted"
    request_id: str | None = None
    position: int | None = None
    propensity: float | None = None
    arm: str | None = None
    experiment: str | None = None
    strategy: str | None = None
    model_version: str | None = None
    score: float | None = None


COLUMNS = tuple(f.name for f in fields(LoggedEvent))
# how backends store a row: the time as integer microseconds since the epoch (UTC)
STORED = ("event_id", "ts_us", *COLUMNS[2:])


# what each stored column holds, for the backends' DDL and casts; the first seven are
# required (NOT NULL), event_id is unique
KIND = {c: "text" for c in STORED} | {
    "ts_us": "int",
    "position": "int",
    "propensity": "float",
    "score": "float",
}
REQUIRED = STORED[:7]


def create_table(key: str, types: dict[str, str]) -> str:
    """The events table's DDL in one SQL dialect: `key` is its auto-incrementing
    arrival-order column's type, `types` maps each KIND to the dialect's type."""
    columns = [f"seq {key}"]
    for column in STORED:
        spec = f"{column} {types[KIND[column]]}"
        spec += " NOT NULL" if column in REQUIRED else ""
        spec += " UNIQUE" if column == "event_id" else ""
        columns.append(spec)
    return "CREATE TABLE IF NOT EXISTS events (\n    " + ",\n    ".join(columns) + "\n)"


def stored_row(event: LoggedEvent) -> tuple[object, ...]:
    """The event's values in STORED order."""
    ts_us = int(event.ts.value // 1000)
    return (event.event_id, ts_us, *(getattr(event, c) for c in COLUMNS[2:]))


class EventLog(Protocol):
    """An append-only store of events, idempotent on event_id."""

    url: str

    def append(self, events: Sequence[LoggedEvent]) -> int:
        """Store the events; durable when this returns. Returns how many were new (an
        event_id already stored is skipped, not overwritten)."""
        ...

    def read(self) -> pd.DataFrame:
        """Every stored event in arrival order, COLUMNS (ts UTC-aware)."""
        ...

    def count(self) -> int: ...

    def close(self) -> None: ...


def contract_events(log: EventLog) -> pd.DataFrame:
    """The log as the data contract's `events` table, ready for retraining."""
    frame = log.read()
    out = frame.loc[:, list(CONTRACT_COLUMNS)].copy()
    out["propensity"] = out["propensity"].astype("Float64")
    return out
