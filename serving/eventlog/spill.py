"""Served impressions the event log could not take before the server stopped, kept on
disk until the next start writes them.

A spill is one JSON-lines file (base.event_json per row), written to a temporary name,
fsynced and renamed, so a file that exists is complete. At start a server claims every
spill of its event log by taking an exclusive lock on it (flock: two workers starting
together do not both queue it, and the lock dies with its process), writes the rows,
and deletes the file only once they are stored; should it die first, the next start
claims the file again (appends are idempotent on event_id: a row written twice is
stored once).

Where: next to the SQLite file (`events.db.unsent-*.jsonl`), or in the spill directory
(CIRCLERANK_SPILL_DIR; for PostgreSQL without one, the working directory) as
`unsent-impressions-<digest of the log's URL>-*.jsonl`.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pandas as pd

from circlerank.durable import fsync_path

from .base import EventLog, LoggedEvent, event_from_json, event_json
from .sqlite import SQLiteEventLog

log = logging.getLogger(__name__)


class SpillDirectory:
    def __init__(self, directory: Path, prefix: str) -> None:
        self.directory = directory
        self.prefix = prefix

    def save(self, events: Sequence[LoggedEvent]) -> Path:
        """Write the events to a new spill file, durably (OSError if it cannot)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S%f")  # sorts oldest first
        name = f"{self.prefix}{stamp}-{os.getpid()}-{secrets.token_hex(4)}.jsonl"
        target = self.directory / name
        partial = self.directory / f".{name}.partial"
        try:
            with partial.open("w", encoding="ascii") as out:
                out.writelines(event_json(e) + "\n" for e in events)
                out.flush()
                os.fsync(out.fileno())
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        fsync_path(self.directory)  # the rename, durable
        return target

    def claim(self) -> tuple[list[LoggedEvent], list[Claim]]:
        """Every spilled event of this log no other process has claimed, oldest file
        first, and the claims to `release` once the events are stored. A file with
        unreadable lines is renamed *.unreadable (its good lines are returned) and left
        for an operator."""
        events: list[LoggedEvent] = []
        claims: list[Claim] = []
        for path in sorted(self.directory.glob(f"{self.prefix}*.jsonl")):
            claim = Claim.take(path)
            if claim is None:
                continue
            good, readable = _read(claim.file)
            events.extend(good)
            if readable:
                claims.append(claim)
            else:
                path.rename(path.with_name(path.name + ".unreadable"))
                claim.file.close()
        return events, claims

    def release(self, claims: Sequence[Claim]) -> None:
        """Delete claimed files whose events are now stored (or spilled again)."""
        for claim in claims:
            claim.path.unlink(missing_ok=True)
            claim.file.close()


@dataclass
class Claim:
    """A spill file this process holds the lock of."""

    path: Path
    file: TextIO

    @classmethod
    def take(cls, path: Path) -> Claim | None:
        """The claim on `path`; none when another live process holds it (or it is gone)."""
        try:
            file = path.open(encoding="ascii", errors="replace")
        except FileNotFoundError:  # released by the worker that wrote its rows
            return None
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            return None
        return cls(path, file)


def spill_for(event_log: EventLog, directory: Path | None) -> SpillDirectory:
    """Where `event_log`'s unsent impressions go: `directory`, or next to its SQLite
    file, or the working directory."""
    if directory is None and isinstance(event_log, SQLiteEventLog):
        path = event_log.path.absolute()
        return SpillDirectory(path.parent, f"{path.name}.unsent-")
    if isinstance(event_log, SQLiteEventLog):
        identity = str(event_log.path.absolute())
    else:
        identity = event_log.url
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return SpillDirectory(directory or Path.cwd(), f"unsent-impressions-{digest}-")


def _read(lines: TextIO) -> tuple[list[LoggedEvent], bool]:
    """The events in a spill file, and whether every line was readable."""
    events: list[LoggedEvent] = []
    readable = True
    for number, line in enumerate(lines, 1):
        try:
            events.append(event_from_json(line))
        except (ValueError, TypeError, KeyError) as exc:
            log.error("%s line %d: not a spilled impression (%s)", lines.name, number, exc)
            readable = False
    return events, readable
