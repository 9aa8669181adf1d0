"""Event logs chosen by URL: `sqlite:///path` (the embedded default) or
`postgresql://user@host:port/db` (a shared PostgreSQL database). Rows a backend refuses
go to its `dead_letters` table (see base.py)."""

from __future__ import annotations

from circlerank.errors import ConfigError
from circlerank.redact import masked_url

from .base import (
    COLUMNS,
    CONTRACT_COLUMNS,
    Appended,
    DeadLetter,
    DeadLetterHook,
    EventLog,
    LoggedEvent,
    contract_events,
)
from .postgres import PostgresEventLog
from .sqlite import SQLiteEventLog

__all__ = [
    "COLUMNS",
    "CONTRACT_COLUMNS",
    "Appended",
    "DeadLetter",
    "EventLog",
    "LoggedEvent",
    "PostgresEventLog",
    "SQLiteEventLog",
    "contract_events",
    "open_event_log",
]
SCHEMES = ("sqlite", "postgresql")
_EXAMPLES = "sqlite:///path, postgresql://user@host:5432/db"


def open_event_log(url: str, on_dead_lettered: DeadLetterHook | None = None) -> EventLog:
    """The event log at `url`; a ConfigError naming the valid schemes otherwise.
    `on_dead_lettered(origin, n)` hears of every row it dead-letters."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ConfigError(f"event log {masked_url(url)!r}: unknown backend; valid: " + _EXAMPLES)
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if not path:
            raise ConfigError(f"event log {url!r}: no file path (e.g. sqlite:///events.db)")
        return SQLiteEventLog(path, on_dead_lettered=on_dead_lettered)
    return PostgresEventLog(url, on_dead_lettered=on_dead_lettered)
