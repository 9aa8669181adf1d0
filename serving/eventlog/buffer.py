"""Writes served impressions in the background, so a feed response never waits on a
disk sync.

Rows wait in memory at most `interval_s`. A row the event log refuses is dead-lettered
and the rest of its batch stored (isolate.py). While the log itself fails (an outage)
the rows are kept and retried, up to `max_pending` of them; beyond that the oldest are
dropped, counted and logged. `close` writes whatever is left, and if the log still
fails, spills it to disk (spill.py), where the next start finds and writes it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from circlerank.errors import EventLogError
from circlerank.redact import masked_text

from .base import Appended, EventLog, LoggedEvent
from .spill import Claim, SpillDirectory

log = logging.getLogger(__name__)

Count = Callable[[int], None]


def _ignore(n: int) -> None:
    return None


class BackgroundWriter:
    def __init__(
        self,
        log_: EventLog,
        interval_s: float = 0.1,
        max_pending: int = 100_000,
        on_written: Count | None = None,
        on_dropped: Count | None = None,
        on_backlog: Count | None = None,
        spill: SpillDirectory | None = None,
    ) -> None:
        self.log = log_
        self.last_error: str | None = None  # the event log's error while it is failing
        self.interval_s = interval_s
        self.max_pending = max_pending
        self.spill = spill
        self._on_written = on_written or _ignore
        self._on_dropped = on_dropped or _ignore
        self._on_backlog = on_backlog or _ignore  # called holding the lock: in order
        self._pending: deque[LoggedEvent] = deque()
        self._writing = 0  # rows taken out of _pending by a flush in progress
        self._failing_since: float | None = None  # time.monotonic() of the first failure
        self._restored: list[Claim] = []  # spill files to delete once their rows are stored
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if spill is not None:
            self._restore(spill)
        self._thread = threading.Thread(target=self._run, name="impression-writer", daemon=True)
        self._thread.start()

    def submit(self, events: Sequence[LoggedEvent]) -> None:
        with self._lock:
            self._pending.extend(events)
            dropped = self._drop_oldest_beyond_cap()
            self._on_backlog(self.pending)
        self._report_dropped(dropped)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Rows not yet stored: waiting, or in a write that has not returned."""
        return len(self._pending) + self._writing

    def failing_for_s(self) -> float:
        """How long writes have been failing without a success in between (0: they are not)."""
        since = self._failing_since
        return 0.0 if since is None else time.monotonic() - since

    def flush(self) -> Appended:
        """Write everything submitted so far. On EventLogError (or any other error) the
        rows are put back, in order, for the next try, and the error raised."""
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
            self._writing = len(batch)
        if not batch:
            self._release_restored()  # an empty spill file
            return Appended(0)
        try:
            result = self.log.append_batch(batch)
        except BaseException:
            with self._lock:
                self._pending.extendleft(reversed(batch))
                self._writing = 0
                dropped = self._drop_oldest_beyond_cap()
                self._on_backlog(self.pending)
            self._report_dropped(dropped)
            raise
        with self._lock:
            self._writing = 0
            self._on_backlog(self.pending)
        self._on_written(len(batch) - len(result.dead_lettered))
        self._release_restored()
        return result

    def close(self) -> None:
        """Stop the thread and write what is left; if the event log refuses, spill it to
        disk for the next start. Never raises, so whoever closes the writer goes on to
        close the rest."""
        self._stop.set()
        self._thread.join()
        try:
            self.flush()
        except Exception as exc:
            log.error("impression log: the last write failed (%s)", _described(exc))
            self._spill_pending()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.flush()
            except Exception as exc:  # any error: keep the thread (and the rows) alive
                self._failed(exc)
            else:
                self._succeeded()

    def _failed(self, exc: Exception) -> None:
        if self.last_error is None:  # once per outage, not every interval
            log.error(
                "impression log: %s (retrying every %.1f s)",
                _described(exc),
                self.interval_s,
                exc_info=not isinstance(exc, EventLogError),
            )
            self._failing_since = time.monotonic()
        self.last_error = _described(exc)

    def _succeeded(self) -> None:
        if self.last_error is not None:
            log.warning("impression log writable again; %d rows pending", self.pending)
        self.last_error = None
        self._failing_since = None

    def _drop_oldest_beyond_cap(self) -> int:
        """Drop the oldest waiting rows beyond max_pending (call holding the lock)."""
        excess = max(0, len(self._pending) - self.max_pending)
        for _ in range(excess):
            self._pending.popleft()
        return excess

    def _report_dropped(self, dropped: int) -> None:
        if dropped:
            log.error("impression log behind: dropped the %d oldest unwritten rows", dropped)
            self._on_dropped(dropped)

    def _restore(self, spill: SpillDirectory) -> None:
        """Queue the impressions an earlier run spilled, ahead of any new ones."""
        try:
            events, self._restored = spill.claim()
        except OSError as exc:
            log.error("cannot read the spilled impressions in %s: %s", spill.directory, exc)
            return
        if events:
            log.warning(
                "%d impressions spilled by an earlier run are queued for writing", len(events)
            )
        with self._lock:
            self._pending.extend(events)
            dropped = self._drop_oldest_beyond_cap()
            self._on_backlog(self.pending)
        self._report_dropped(dropped)

    def _release_restored(self) -> None:
        if self._restored and self.spill is not None:
            restored, self._restored = self._restored, []
            self.spill.release(restored)

    def _spill_pending(self) -> None:
        with self._lock:
            rows = list(self._pending)
            self._pending.clear()
            self._on_backlog(0)
        if not rows:
            return
        if self.spill is None:
            log.error("impression log: lost %d unwritten rows (no spill directory)", len(rows))
            self._on_dropped(len(rows))
            return
        try:
            path = self.spill.save(rows)
        except OSError as exc:
            log.error(
                "impression log: lost %d unwritten rows, cannot spill them to %s: %s",
                len(rows),
                self.spill.directory,
                exc,
            )
            self._on_dropped(len(rows))
            return
        log.warning("impression log: %d unwritten rows spilled to %s", len(rows), path)
        self._release_restored()  # their rows are in the new spill


def _described(exc: BaseException) -> str:
    """The error for logs and /readyz, without credentials."""
    text = str(exc) if isinstance(exc, EventLogError) else f"{type(exc).__name__}: {exc}"
    return masked_text(text)
