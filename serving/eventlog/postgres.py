"""The PostgreSQL event log, for servers on several machines sharing one log.

A batch is one INSERT ... SELECT FROM unnest(...) of typed arrays (one round trip
whatever its size), `ON CONFLICT (event_id) DO NOTHING` keeps it idempotent, and the
commit returns only once PostgreSQL has flushed it (synchronous_commit is on), so an
acknowledged event survives a crash of the server or of the database. A lost
connection is reopened on the next call; while the database is down every call
raises EventLogError, which the API answers with 503 (nothing is acknowledged that
was not stored).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import psycopg

from circlerank.errors import EventLogError

from .base import KIND, STORED, LoggedEvent, create_table, stored_row

_TYPES = {"text": "text", "int": "bigint", "float": "double precision"}
_SCHEMA = create_table("BIGSERIAL PRIMARY KEY", _TYPES)
_INSERT = (
    f"INSERT INTO events ({', '.join(STORED)}) SELECT * FROM unnest("
    + ", ".join(f"%s::{_TYPES[KIND[c]]}[]" for c in STORED)
    + ") ON CONFLICT (event_id) DO NOTHING"
)


def _masked(url: str) -> str:
    """The URL without its password, for messages and /readyz."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresEventLog:
    def __init__(self, url: str, connect_timeout_s: float = 3.0) -> None:
        self._dsn = url
        self.url = _masked(url)
        self._timeout = connect_timeout_s
        self._lock = threading.Lock()  # one connection, used by many request threads
        self._db: psycopg.Connection | None = None
        with self._lock:
            self._connection()

    def _connection(self) -> psycopg.Connection:
        if self._db is None or self._db.closed or self._db.broken:
            try:
                self._db = psycopg.connect(
                    self._dsn, connect_timeout=max(1, round(self._timeout)), autocommit=True
                )
                self._db.execute(_SCHEMA)
            except psycopg.Error as exc:
                self._db = None
                raise EventLogError(f"{self.url}: cannot open the event log ({exc})") from exc
        return self._db

    def append(self, events: Sequence[LoggedEvent]) -> int:
        if not events:
            return 0
        columns = [list(column) for column in zip(*map(stored_row, events), strict=True)]
        with self._lock:
            try:
                db = self._connection()
                with db.transaction():
                    cursor = db.execute(_INSERT, columns)
                return max(cursor.rowcount, 0)
            except psycopg.Error as exc:
                raise EventLogError(
                    f"{self.url}: cannot append {len(events)} events ({exc})"
                ) from exc

    def read(self) -> pd.DataFrame:
        with self._lock:
            try:
                cursor = self._connection().execute(
                    f"SELECT {', '.join(STORED)} FROM events ORDER BY seq"
                )
                frame = pd.DataFrame(cursor.fetchall(), columns=list(STORED))
            except psycopg.Error as exc:
                raise EventLogError(f"{self.url}: cannot read the event log ({exc})") from exc
        ts = pd.to_datetime(frame.pop("ts_us").astype("int64"), unit="us", utc=True)
        frame.insert(1, "ts", ts)
        frame["position"] = frame["position"].astype("Int64")
        for column in ("propensity", "score"):
            frame[column] = frame[column].astype("float64")
        return frame

    def count(self) -> int:
        with self._lock:
            try:
                row = self._connection().execute("SELECT COUNT(*) FROM events").fetchone()
            except psycopg.Error as exc:
                raise EventLogError(f"{self.url}: cannot count the events ({exc})") from exc
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
