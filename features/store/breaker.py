"""A circuit breaker around an online store whose server can go away (Redis).

After a failure the breaker opens: for `retry_s` every call fails at once with
StoreUnavailableError instead of waiting on a dead server's timeout, so callers
fall back at full speed; then one call tries the server again, and its success
closes the breaker. `status()` says which state it is in, for /readyz.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from circlerank.errors import StoreUnavailableError

from .online import Ids, OnlineStoreReader


@dataclass(frozen=True)
class StoreStatus:
    available: bool
    error: str | None = None
    since: float | None = None  # time.time() of the first failure of this outage


class BreakerStore(OnlineStoreReader):
    def __init__(self, inner: OnlineStoreReader, retry_s: float = 1.0) -> None:
        self.inner = inner
        self.retry_s = retry_s
        self._lock = threading.Lock()
        self._open_until = 0.0
        self._error: str | None = None
        self._since: float | None = None

    def status(self) -> StoreStatus:
        with self._lock:
            return StoreStatus(self._error is None, self._error, self._since)

    def _call(self, table: str, ids: Ids) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            if time.monotonic() < self._open_until:
                raise StoreUnavailableError(self._error or "online store unavailable")
        try:
            got = self.inner.lookup_found(table, ids)
        except StoreUnavailableError as exc:
            with self._lock:
                self._open_until = time.monotonic() + self.retry_s
                self._error = str(exc)
                self._since = self._since or time.time()
            raise
        if self._error is not None:
            with self._lock:
                self._error, self._since, self._open_until = None, None, 0.0
        return got

    @property
    def tables(self) -> tuple[str, ...]:
        return self.inner.tables

    @property
    def as_of(self) -> pd.Timestamp:
        return self.inner.as_of

    def columns(self, table: str) -> tuple[str, ...]:
        return self.inner.columns(table)

    def key_columns(self, table: str) -> tuple[str, ...]:
        return self.inner.key_columns(table)

    def lookup(self, table: str, ids: Ids) -> np.ndarray:
        return self._call(table, ids)[0]

    def found(self, table: str, ids: Ids) -> np.ndarray:
        return self._call(table, ids)[1]

    def lookup_found(self, table: str, ids: Ids) -> tuple[np.ndarray, np.ndarray]:
        return self._call(table, ids)

    def close(self) -> None:
        self.inner.close()
