"""What a server process ranks from: the contract data, the instant it ranks as of, the
feature snapshot at that instant and catalogs of the world at it.

The snapshot is materialized once per server (by `circlerank serve` before its workers
start) and memory-mapped by every worker; a process that finds no snapshot as of its
instant, with the schema its bundle wants, writes one.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

import pandas as pd

from circlerank.errors import CircleRankError, ConfigError
from circlerank.redact import masked_url
from features.compute import FeatureBuilder
from features.config import FeatureConfig
from features.contract import ContractData, data_end, load_contract, parse_as_of
from features.materialize import ONLINE, read_schema, write_snapshot
from features.schema import FeatureSchema
from features.serving import ServingFeatures
from features.store import (
    BreakerStore,
    OnlineStore,
    RedisOnlineStore,
    StoreStatus,
    ensure_loaded,
)
from ranking.catalog import Catalog

log = logging.getLogger(__name__)
CATALOGS_KEPT = 4  # instants pinned by live cursors (one per snapshot the server had)


def serving_instant(data: ContractData, as_of: str | None) -> pd.Timestamp:
    if as_of is None:
        return data_end(data)
    return parse_as_of(None if as_of == "now" else as_of)


def ensure_snapshot(
    data: ContractData, directory: Path, as_of: pd.Timestamp, config: FeatureConfig | None
) -> FeatureSchema:
    """The schema of the snapshot in `directory`, written first unless one as of
    `as_of` with the features of `config` is already there."""
    wanted = FeatureBuilder(data, config)
    if (directory / "manifest.json").is_file():
        written_at, schema = read_schema(directory)
        if written_at == as_of and schema.config == wanted.config:
            log.info("reusing the feature snapshot in %s (as of %s)", directory, as_of)
            return schema
    return write_snapshot(wanted, directory, as_of).schema


def prepare(
    data_dir: Path,
    as_of: str | None,
    snapshot: Path,
    config: FeatureConfig | None,
    online_store: str | None = None,
) -> tuple[ContractData, pd.Timestamp, FeatureSchema]:
    """The data, the instant to serve it as of, and the schema of the snapshot at that
    instant in `snapshot` (written unless already there; loaded into the Redis online
    store unless it holds that snapshot already)."""
    data = load_contract(data_dir)
    instant = serving_instant(data, as_of)
    schema = ensure_snapshot(data, snapshot, instant, config)
    if online_store is not None:
        with OnlineStore.open(snapshot / ONLINE) as files:
            if ensure_loaded(files, online_store):
                log.info("loaded the snapshot as of %s into %s", instant, masked_url(online_store))
    return data, instant, schema


def open_store(online_store: str | None, snapshot: Path, retry_s: float) -> BreakerStore | None:
    """The Redis online store behind a circuit breaker (refilled from the snapshot's
    files if Redis loses it); none = the snapshot's files."""
    if online_store is None:
        return None
    redis_store = RedisOnlineStore.open(online_store, restore=snapshot / ONLINE)
    return BreakerStore(redis_store, retry_s=retry_s)


class ServingWorld:
    """Data, snapshot and catalogs of one server process (shared by every bundle it
    serves, so a model swap keeps them)."""

    def __init__(
        self,
        data_dir: Path,
        as_of: str | None,
        snapshot: Path | None,
        config: FeatureConfig | None,
        freshness: pd.Timedelta,
        online_store: str | None = None,
        store_retry_s: float = 1.0,
    ) -> None:
        self._tmp = None
        if snapshot is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="circlerank-serve-")
            snapshot = Path(self._tmp.name)
        self.snapshot = snapshot
        self.data, self.as_of, self.schema = prepare(
            data_dir, as_of, snapshot, config, online_store
        )
        self.store = open_store(online_store, snapshot, store_retry_s)
        self.online_store = online_store or f"file://{snapshot / ONLINE}"
        self.features = ServingFeatures(snapshot, self.data, store=self.store)
        self.freshness = freshness
        self._catalogs: OrderedDict[pd.Timestamp, Catalog] = OrderedDict()
        self._lock = threading.Lock()
        self.catalog(self.as_of)

    def catalog(self, as_of: pd.Timestamp) -> Catalog:
        """The catalog at `as_of` (the server's instant, or one a cursor pinned)."""
        with self._lock:
            if as_of in self._catalogs:
                self._catalogs.move_to_end(as_of)
                return self._catalogs[as_of]
            if as_of > self.as_of:
                raise ConfigError(f"cannot rank as of {as_of}: the data ends at {self.as_of}")
            catalog = Catalog(self.data, as_of, freshness=self.freshness)
            self._catalogs[as_of] = catalog
            while len(self._catalogs) > CATALOGS_KEPT:
                oldest = next(iter(self._catalogs))
                if oldest == self.as_of:
                    self._catalogs.move_to_end(oldest)
                    continue
                del self._catalogs[oldest]
            return catalog

    def store_status(self) -> StoreStatus:
        """Whether the online store answers (the file store always does)."""
        return self.store.status() if self.store is not None else StoreStatus(True)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        if self._tmp is not None:
            try:
                self._tmp.cleanup()
            except OSError as exc:  # a worker may still hold the mapped files
                log.warning("could not remove %s: %s", self._tmp.name, exc)


def describe_failure(exc: BaseException) -> str:
    """One line for /readyz and the log."""
    if isinstance(exc, CircleRankError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
