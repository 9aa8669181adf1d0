"""What the event log stores and the contract every backend keeps.

One row per event: the data contract's `events` columns, plus where the row came from
(`origin`: "served" for impressions the server showed, "posted" for events clients sent)
and, for served rows, the experiment, strategy, model version and score behind them.

A row the backend refuses (PostgreSQL text cannot hold NUL; no backend stores a lone
surrogate) never blocks the rows around it: the failing batch is bisected down to that
row, which goes to the `dead_letters` table with the backend's reason (serving/eventlog/
isolate.py), and the rest are stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
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


@dataclass(frozen=True)
class DeadLetter:
    """A row the backend refused, stored in `dead_letters` instead of `events`."""

    index: int  # its position in the batch given to append_batch
    event_id: str
    reason: str


@dataclass(frozen=True)
class Appended:
    """What one append did: `new` rows stored (an event_id already stored is skipped),
    and the rows the backend refused, dead-lettered."""

    new: int
    dead_lettered: tuple[DeadLetter, ...] = ()


# told how many rows of each origin were dead-lettered (for /metrics)
DeadLetterHook = Callable[[str, int], None]

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


# the dead-letter table: every text is printable ASCII (JSON escapes), so a backend that
# refused a row's value still stores it here; `key` (a digest of the row and the reason)
# keeps a retried batch from storing its dead letters twice
DEAD_LETTER_KIND = {
    "key": "text",
    "at_us": "int",
    "origin": "text",
    "event_id": "text",
    "reason": "text",
    "event": "text",
}


def create_dead_letters(key: str, types: dict[str, str]) -> str:
    """The dead_letters table's DDL, like create_table."""
    columns = [f"seq {key}"]
    for column, kind in DEAD_LETTER_KIND.items():
        columns.append(f"{column} {types[kind]} NOT NULL" + (" UNIQUE" if column == "key" else ""))
    return "CREATE TABLE IF NOT EXISTS dead_letters (\n    " + ",\n    ".join(columns) + "\n)"


def dead_letter_frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    """Rows of (at_us, origin, event_id, reason, event) as the dead_letters() frame."""
    frame = pd.DataFrame(rows, columns=["at_us", "origin", "event_id", "reason", "event"])
    frame.insert(0, "at", pd.to_datetime(frame.pop("at_us").astype("int64"), unit="us", utc=True))
    return frame


def event_json(event: LoggedEvent) -> str:
    """The event as one line of ASCII JSON (NUL, surrogates and the like escaped)."""
    values = asdict(event) | {"ts": event.ts.isoformat()}
    return json.dumps(values, ensure_ascii=True, allow_nan=True, separators=(",", ":"))


def event_from_json(line: str) -> LoggedEvent:
    """The event `event_json` wrote."""
    values = json.loads(line)
    return LoggedEvent(**values | {"ts": pd.Timestamp(values["ts"])})


def printable(text: str) -> str:
    """`text` as printable ASCII (JSON escapes), for values stored as dead letters."""
    return json.dumps(text, ensure_ascii=True)[1:-1]


def stored_row(event: LoggedEvent) -> tuple[object, ...]:
    """The event's values in STORED order."""
    ts_us = int(event.ts.value // 1000)
    return (event.event_id, ts_us, *(getattr(event, c) for c in COLUMNS[2:]))


class EventLog(Protocol):
    """An append-only store of events, idempotent on event_id."""

    url: str

    def append(self, events: Sequence[LoggedEvent]) -> int:
        """Store the events; durable when this returns. Returns how many were new (an
        event_id already stored is skipped, not overwritten). A row the backend refuses
        is dead-lettered (see append_batch), not counted, and never raised."""
        ...

    def append_batch(self, events: Sequence[LoggedEvent]) -> Appended:
        """`append`, also saying which rows were dead-lettered and why. EventLogError
        only when the log itself fails (unreachable, locked, full)."""
        ...

    def dead_letters(self) -> pd.DataFrame:
        """Every dead-lettered row in arrival order: at (UTC-aware), origin, event_id,
        reason, event (the row as event_json)."""
        ...

    def durability(self) -> dict[str, str]:
        """The session settings that make an append durable, read back from the
        connection the log writes through (e.g. SQLite's synchronous, journal_mode)."""
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
