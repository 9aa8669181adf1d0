"""Event logs chosen by URL: `sqlite:///path` (the embedded default)."""

from __future__ import annotations

from circlerank.errors import ConfigError

from .base import COLUMNS, CONTRACT_COLUMNS, EventLog, LoggedEvent, contract_events
from .sqlite import SQLiteEventLog

__all__ = [
    "COLUMNS",
    "CONTRACT_COLUMNS",
    "EventLog",
    "LoggedEvent",
    "contract_events",
    "open_event_log",
]
SCHEMES = ("sqlite",)


def open_event_log(url: str) -> EventLog:
    """The event log at `url`; a ConfigError naming the valid schemes otherwise."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ConfigError(
            f"event log {url!r}: unknown backend; valid: "
            + ", ".join(f"{s}:///path" for s in SCHEMES)
        )
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if not path:
            raise ConfigError(f"event log {url!r}: no file path (e.g. sqlite:///events.db)")
        return SQLiteEventLog(path)
    raise AssertionError(scheme)
