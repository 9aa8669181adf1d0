"""Writes served impressions in the background, so a feed response never waits on a
disk sync. Rows wait in memory at most `interval_s`; a failed write keeps them for the
next try, up to `max_pending` rows, beyond which the oldest are dropped, counted and
logged. `close` writes whatever is left."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence

from circlerank.errors import EventLogError

from .base import EventLog, LoggedEvent

log = logging.getLogger(__name__)


class BackgroundWriter:
    def __init__(
        self,
        log_: EventLog,
        interval_s: float = 0.1,
        max_pending: int = 100_000,
        on_written: Callable[[int], None] | None = None,
        on_dropped: Callable[[int], None] | None = None,
    ) -> None:
        self.log = log_
        self.last_error: str | None = None  # the event log's error while it is failing
        self.interval_s = interval_s
        self.max_pending = max_pending
        self._on_written = on_written or (lambda n: None)
        self._on_dropped = on_dropped or (lambda n: None)
        self._pending: deque[LoggedEvent] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="impression-writer", daemon=True)
        self._thread.start()

    def submit(self, events: Sequence[LoggedEvent]) -> None:
        with self._lock:
            self._pending.extend(events)
            excess = len(self._pending) - self.max_pending
            for _ in range(max(0, excess)):
                self._pending.popleft()
        if excess > 0:
            log.error("impression log behind: dropped the %d oldest unwritten rows", excess)
            self._on_dropped(excess)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> None:
        """Write everything submitted so far (EventLogError if the log refuses)."""
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
        if not batch:
            return
        try:
            self.log.append(batch)
        except EventLogError:
            with self._lock:
                self._pending.extendleft(reversed(batch))
            raise
        self._on_written(len(batch))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.flush()
            except EventLogError as exc:
                if self.last_error is None:  # once per outage, not every interval
                    log.error("impression log: %s (retrying every %.1f s)", exc, self.interval_s)
                self.last_error = str(exc)
            else:
                if self.last_error is not None:
                    log.warning("impression log writable again; %d rows pending", self.pending)
                self.last_error = None

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.flush()
