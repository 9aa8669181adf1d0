"""The PostgreSQL event log, for servers on several machines sharing one log.

A batch is one INSERT ... SELECT FROM unnest(...) of typed arrays (one round trip
whatever its size), `ON CONFLICT (event_id) DO NOTHING` keeps it idempotent, and the
commit returns only once PostgreSQL has flushed it: every session sets
`synchronous_commit = on` itself, whatever the server's or the URL's default, so an
acknowledged event survives a crash of the server or of the database. A lost
connection is reopened on the next call; while the database is down every call
raises EventLogError, which the API answers with 503 (nothing is acknowledged that
was not stored).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pandas as pd
import psycopg

from circlerank.errors import EventLogError, RowRefusedError
from circlerank.redact import masked_text, masked_url

from .base import (
    DEAD_LETTER_KIND,
    KIND,
    STORED,
    Appended,
    DeadLetterHook,
    LoggedEvent,
    create_dead_letters,
    create_table,
    dead_letter_frame,
    stored_row,
)
from .isolate import append_isolating

_TYPES = {"text": "text", "int": "bigint", "float": "double precision"}
_KEY = "BIGSERIAL PRIMARY KEY"
_SCHEMA = create_table(_KEY, _TYPES)
_DEAD_LETTERS = create_dead_letters(_KEY, _TYPES)
_INSERT = (
    f"INSERT INTO events ({', '.join(STORED)}) SELECT * FROM unnest("
    + ", ".join(f"%s::{_TYPES[KIND[c]]}[]" for c in STORED)
    + ") ON CONFLICT (event_id) DO NOTHING"
)
_INSERT_DEAD = (
    f"INSERT INTO dead_letters ({', '.join(DEAD_LETTER_KIND)}) SELECT * FROM unnest("
    + ", ".join(f"%s::{_TYPES[kind]}[]" for kind in DEAD_LETTER_KIND.values())
    + ") ON CONFLICT (key) DO NOTHING"
)
# SQLSTATE classes of a value PostgreSQL will not store (as opposed to an outage):
# 22 data exception (NUL in text, out of range), 23 integrity, 54 program limit (an
# index row too large)
_ROW_STATES = ("22", "23", "54")
# refused by psycopg before sending: a lone surrogate has no UTF-8, an int too large
_CLIENT_ROW_ERRORS = (UnicodeEncodeError, OverflowError)


def _refuses_the_row(exc: Exception) -> bool:
    if isinstance(exc, _CLIENT_ROW_ERRORS):
        return True
    if isinstance(exc, psycopg.DataError):  # also psycopg's own NUL check, sqlstate None
        return True
    state = getattr(exc, "sqlstate", None) or ""
    return state[:2] in _ROW_STATES


class PostgresEventLog:
    def __init__(
        self,
        url: str,
        connect_timeout_s: float = 3.0,
        on_dead_lettered: DeadLetterHook | None = None,
    ) -> None:
        self._dsn = url
        self.url = masked_url(url)
        self._timeout = connect_timeout_s
        self._on_dead_lettered = on_dead_lettered
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
                # durable on commit, whatever postgresql.conf or the URL's options say
                self._db.execute("SET synchronous_commit = on")
                self._db.execute(_SCHEMA)
                self._db.execute(_DEAD_LETTERS)
            except psycopg.Error as exc:
                self._db = None
                raise self._error("cannot open the event log", exc) from exc
        return self._db

    def _error(self, what: str, exc: BaseException) -> EventLogError:
        return EventLogError(f"{self.url}: {what} ({masked_text(str(exc))})")

    def append(self, events: Sequence[LoggedEvent]) -> int:
        return self.append_batch(events).new

    def append_batch(self, events: Sequence[LoggedEvent]) -> Appended:
        if not events:
            return Appended(0)
        return append_isolating(
            self._insert, self._insert_dead_letters, events, self._on_dead_lettered
        )

    def _insert(self, events: Sequence[LoggedEvent]) -> int:
        """Store the events in one transaction (RowRefusedError: a value it cannot store)."""
        with self._lock:
            try:
                columns = [list(c) for c in zip(*map(stored_row, events), strict=True)]
                db = self._connection()
                with db.transaction():
                    cursor = db.execute(_INSERT, columns)
                return max(cursor.rowcount, 0)
            except (psycopg.Error, *_CLIENT_ROW_ERRORS) as exc:
                if _refuses_the_row(exc):
                    raise RowRefusedError(f"PostgreSQL refused the row: {exc}") from exc
                raise self._error(f"cannot append {len(events)} events", exc) from exc

    def _insert_dead_letters(self, rows: list[tuple[object, ...]]) -> None:
        columns = [list(c) for c in zip(*rows, strict=True)]
        with self._lock:
            try:
                db = self._connection()
                with db.transaction():
                    db.execute(_INSERT_DEAD, columns)
            except psycopg.Error as exc:
                raise self._error(f"cannot store {len(rows)} dead letters", exc) from exc

    def read(self) -> pd.DataFrame:
        with self._lock:
            try:
                cursor = self._connection().execute(
                    f"SELECT {', '.join(STORED)} FROM events ORDER BY seq"
                )
                frame = pd.DataFrame(cursor.fetchall(), columns=list(STORED))
            except psycopg.Error as exc:
                raise self._error("cannot read the event log", exc) from exc
        ts = pd.to_datetime(frame.pop("ts_us").astype("int64"), unit="us", utc=True)
        frame.insert(1, "ts", ts)
        frame["position"] = frame["position"].astype("Int64")
        for column in ("propensity", "score"):
            frame[column] = frame[column].astype("float64")
        return frame

    def dead_letters(self) -> pd.DataFrame:
        with self._lock:
            try:
                rows = (
                    self._connection()
                    .execute(
                        "SELECT at_us, origin, event_id, reason, event FROM dead_letters "
                        "ORDER BY seq"
                    )
                    .fetchall()
                )
            except psycopg.Error as exc:
                raise self._error("cannot read the dead letters", exc) from exc
        return dead_letter_frame(rows)

    def count(self) -> int:
        with self._lock:
            try:
                row = self._connection().execute("SELECT COUNT(*) FROM events").fetchone()
            except psycopg.Error as exc:
                raise self._error("cannot count the events", exc) from exc
        return int(row[0]) if row else 0

    def durability(self) -> dict[str, str]:
        with self._lock:
            try:
                row = self._connection().execute("SHOW synchronous_commit").fetchone()
            except psycopg.Error as exc:
                raise self._error("cannot read the session settings", exc) from exc
        return {"synchronous_commit": str(row[0]) if row else ""}

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
