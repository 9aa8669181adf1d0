"""Event logs chosen by URL: `sqlite:///path` (the embedded default) or
`postgresql://user@host:port/db` (a shared PostgreSQL database)."""

from __future__ import annotations

from circlerank.errors import ConfigError

from .base import COLUMNS, CONTRACT_COLUMNS, EventLog, LoggedEvent, contract_events
from .postgres import PostgresEventLog
from .sqlite import SQLiteEventLog

__all__ = [
    "COLUMNS",
    "CONTRACT_COLUMNS",
    "EventLog",
    "LoggedEvent",
    "PostgresEventLog",
    "SQLiteEventLog",
    "contract_events",
    "open_event_log",
]
SCHEMES = ("sqlite", "postgresql")
_EXAMPLES = "sqlite:///path, postgresql://user@host:5432/db"


def open_event_log(url: str) -> EventLog:
    """The event log at `url`; a ConfigError naming the valid schemes otherwise."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ConfigError(f"event log {url!r}: unknown backend; valid: " + _EXAMPLES)
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if not path:
            raise ConfigError(f"event log {url!r}: no file path (e.g. sqlite:///events.db)")
        return SQLiteEventLog(path)
    return PostgresEventLog(url)
