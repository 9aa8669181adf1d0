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

from circlerank.errors import EventLogError

from .base import STORED, LoggedEvent, create_table, stored_row

_SCHEMA = create_table(
    "INTEGER PRIMARY KEY AUTOINCREMENT", {"text": "TEXT", "int": "INTEGER", "float": "REAL"}
)
_INSERT = (
    f"INSERT OR IGNORE INTO events ({', '.join(STORED)}) VALUES ({', '.join('?' for _ in STORED)})"
)


class SQLiteEventLog:
    def __init__(self, path: str | Path, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise EventLogError(f"{self.url}: cannot open the event log ({exc})") from exc
        self._lock = threading.Lock()  # one connection, used by many request threads

    def append(self, events: Sequence[LoggedEvent]) -> int:
        if not events:
            return 0
        rows = [stored_row(e) for e in events]
        with self._lock:
            try:
                before = self._db.total_changes
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(_INSERT, rows)
                self._db.execute("COMMIT")
                return self._db.total_changes - before
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise EventLogError(
                    f"{self.url}: cannot append {len(rows)} events ({exc})"
                ) from exc

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

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
