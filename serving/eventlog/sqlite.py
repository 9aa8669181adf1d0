"""The embedded event log: one SQLite file in WAL mode.

Every append is one transaction committed with `synchronous=FULL`, so an event is on
disk before the server acknowledges it, even if the process is killed the next moment.
WAL lets readers (an export, /readyz) run while a writer appends, and several server
processes share the file (each write waits up to `busy_timeout` for the lock).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from circlerank.errors import EventLogError, RowRefusedError

from .base import (
    DEAD_LETTER_KIND,
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

_TYPES = {"text": "TEXT", "int": "INTEGER", "float": "REAL"}
_KEY = "INTEGER PRIMARY KEY AUTOINCREMENT"
_SCHEMA = create_table(_KEY, _TYPES)
_DEAD_LETTERS = create_dead_letters(_KEY, _TYPES)
_INSERT = (
    f"INSERT OR IGNORE INTO events ({', '.join(STORED)}) VALUES ({', '.join('?' for _ in STORED)})"
)
_INSERT_DEAD = (
    f"INSERT OR IGNORE INTO dead_letters ({', '.join(DEAD_LETTER_KIND)}) "
    f"VALUES ({', '.join('?' for _ in DEAD_LETTER_KIND)})"
)
# what SQLite raises for a value it cannot store (as opposed to a locked or broken file):
# a lone surrogate has no UTF-8, an integer beyond 64 bits, a type it cannot bind
_ROW_ERRORS = (
    UnicodeEncodeError,
    OverflowError,
    sqlite3.IntegrityError,
    sqlite3.DataError,
    sqlite3.InterfaceError,
)
_SYNCHRONOUS = {0: "off", 1: "normal", 2: "full", 3: "extra"}


class SQLiteEventLog:
    def __init__(
        self,
        path: str | Path,
        busy_timeout_s: float = 10.0,
        on_dead_lettered: DeadLetterHook | None = None,
    ) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._on_dead_lettered = on_dead_lettered
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
            self._db.execute(_DEAD_LETTERS)
        except sqlite3.Error as exc:
            raise EventLogError(f"{self.url}: cannot open the event log ({exc})") from exc
        self._lock = threading.Lock()  # one connection, used by many request threads

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
                rows = [stored_row(e) for e in events]
                before = self._db.total_changes
                self._write(_INSERT, rows)
                return self._db.total_changes - before
            except _ROW_ERRORS as exc:
                raise RowRefusedError(f"SQLite refused the row: {exc}") from exc
            except sqlite3.Error as exc:
                raise EventLogError(
                    f"{self.url}: cannot append {len(events)} events ({exc})"
                ) from exc

    def _insert_dead_letters(self, rows: list[tuple[object, ...]]) -> None:
        with self._lock:
            try:
                self._write(_INSERT_DEAD, rows)
            except sqlite3.Error as exc:
                raise EventLogError(
                    f"{self.url}: cannot store {len(rows)} dead letters ({exc})"
                ) from exc

    def _write(self, statement: str, rows: list[tuple[object, ...]]) -> None:
        """executemany in one transaction, rolled back on any error."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(statement, rows)
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def read(self) -> pd.DataFrame:
        with self._lock:
            try:
                frame = pd.read_sql_query(
                    f"SELECT {', '.join(STORED)} FROM events ORDER BY seq", self._db
                )
            except (sqlite3.Error, pd.errors.DatabaseError) as exc:
                raise EventLogError(f"{self.url}: cannot read the event log ({exc})") from exc
        ts = pd.to_datetime(frame.pop("ts_us"), unit="us", utc=True)
        frame.insert(1, "ts", ts)
        frame["position"] = frame["position"].astype("Int64")
        return frame

    def dead_letters(self) -> pd.DataFrame:
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT at_us, origin, event_id, reason, event FROM dead_letters ORDER BY seq"
                ).fetchall()
            except sqlite3.Error as exc:
                raise EventLogError(f"{self.url}: cannot read the dead letters ({exc})") from exc
        return dead_letter_frame(rows)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def durability(self) -> dict[str, str]:
        with self._lock:
            journal = self._db.execute("PRAGMA journal_mode").fetchone()[0]
            synchronous = self._db.execute("PRAGMA synchronous").fetchone()[0]
        return {"journal_mode": str(journal).lower(), "synchronous": _SYNCHRONOUS[synchronous]}

    def close(self) -> None:
        with self._lock:
            self._db.close()
