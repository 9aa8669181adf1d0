"""The Redis online store: one packed float64 vector per key, read with one MGET.

A snapshot loads into its own namespace (`<prefix>:<as_of>:<random>`), then one SET
points `<prefix>:current` at it, so a reader sees one whole snapshot or the one before;
older namespaces are deleted once the pointer has moved. A key is the table and the
JSON list of its ids (text ids of any content, pairs included, cannot run together);
its value is the row's features as little-endian float64 bytes, in `columns` order.

Redis failures (refused, timed out, reset) raise StoreUnavailableError, so serving can
fall back instead of failing the request; a missing or malformed snapshot raises
FeatureStoreError like the file store.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import redis

from circlerank.errors import FeatureStoreError, StoreUnavailableError
from circlerank.progress import track
from circlerank.redact import masked_url

from .keys import request_keys
from .online import Ids, OnlineStore, OnlineStoreReader

log = logging.getLogger(__name__)
DEFAULT_PREFIX = "circlerank"
_DTYPE = np.dtype("<f8")
_LOAD_CHUNK = 5_000  # keys per pipelined MSET while loading
_KEEP_NAMESPACES = 2  # the current snapshot and the one before (readers still on it)


def _row_key(namespace: str, table: str, ids: Sequence[str]) -> bytes:
    """One id follows the table name as it is (nothing can follow it); several are a
    JSON list, so that no two pairs run together."""
    text = ids[0] if len(ids) == 1 else json.dumps(list(ids))
    return f"{namespace}:{table}:".encode() + text.encode("utf-8", "surrogatepass")


def _client(url: str, timeout_s: float) -> redis.Redis:
    try:
        return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    except ValueError as exc:
        raise FeatureStoreError(f"online store {masked_url(url)!r}: {exc}") from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _unavailable(url: str, exc: Exception) -> StoreUnavailableError:
    return StoreUnavailableError(f"online store {masked_url(url)} is unavailable ({exc})")


class RedisOnlineStore(OnlineStoreReader):
    """Feature rows from the snapshot `<prefix>:current` names in a Redis server.

    Every read fetches the snapshot's manifest key with the rows, so a snapshot that
    vanished (a Redis restarted without persistence, a flushed database) is noticed
    instead of read as unknown keys. Then, with `restore` (the snapshot's file store
    directory) and no snapshot left under the prefix, it loads the files again and
    carries on; otherwise it raises StoreUnavailableError until one is back.
    """

    def __init__(
        self,
        url: str,
        client: redis.Redis,
        prefix: str,
        namespace: str,
        manifest: dict[str, Any],
        restore: Path | None = None,
    ):
        self._url = url
        self.url = masked_url(url)  # for messages: no password
        self.prefix = prefix
        self.namespace = namespace
        self.manifest = manifest
        self.restore = restore
        self._client = client
        self._tables: dict[str, dict[str, Any]] = manifest["tables"]
        self._as_of = pd.Timestamp(manifest["as_of"])

    @classmethod
    def open(
        cls,
        url: str,
        prefix: str = DEFAULT_PREFIX,
        timeout_s: float = 0.5,
        restore: Path | None = None,
    ) -> RedisOnlineStore:
        client = _client(url, timeout_s)
        found = _current(client, url, prefix)
        if found is None:
            client.close()
            raise FeatureStoreError(
                f"online store {masked_url(url)}: no snapshot loaded under {prefix!r} "
                "(`circlerank serve --online-store URL` loads the server's snapshot)"
            )
        return cls(url, client, prefix, *found, restore=restore)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(sorted(self._tables))

    @property
    def as_of(self) -> pd.Timestamp:
        return self._as_of

    def columns(self, table: str) -> tuple[str, ...]:
        return tuple(self._table(table)["columns"])

    def key_columns(self, table: str) -> tuple[str, ...]:
        return tuple(self._table(table)["key_columns"])

    def lookup(self, table: str, ids: Ids) -> np.ndarray:
        return self.lookup_found(table, ids)[0]

    def found(self, table: str, ids: Ids) -> np.ndarray:
        return self.lookup_found(table, ids)[1]

    def lookup_found(self, table: str, ids: Ids) -> tuple[np.ndarray, np.ndarray]:
        spec = self._table(table)
        columns = request_keys(ids, len(spec["key_columns"]), table)
        rows = len(columns[0])
        width = len(spec["columns"])
        out = np.full((rows, width), np.nan)
        hit = np.zeros(rows, dtype=bool)
        # ids that are not text are never stored keys: they stay unknown
        text = [i for i in range(rows) if all(isinstance(c[i], str) for c in columns)]
        if not text:
            return out, hit
        ids_of = [[c[i] for c in columns] for i in text]
        values = self._read(table, ids_of)
        if values is None:
            self._find_snapshot()
            values = self._read(table, ids_of)
        if values is None:
            raise StoreUnavailableError(f"online store {self.url}: the snapshot vanished")
        found = [isinstance(v, bytes) for v in values]
        rows_found = np.asarray(text, dtype=np.intp)[np.asarray(found, dtype=bool)]
        if len(rows_found) and width:
            packed = b"".join(v for v in values if isinstance(v, bytes))
            out[rows_found] = np.frombuffer(packed, dtype=_DTYPE).reshape(-1, width)
        hit[rows_found] = True
        return out, hit

    def _read(self, table: str, ids: list[list[str]]) -> list[object] | None:
        """MGET of the rows, or None when the snapshot's manifest is gone."""
        keys = [f"{self.namespace}:manifest".encode()]
        keys += [_row_key(self.namespace, table, i) for i in ids]
        try:
            values = self._client.mget(keys)
        except redis.RedisError as exc:
            raise _unavailable(self.url, exc) from exc
        return None if values[0] is None else list(values[1:])

    def _find_snapshot(self) -> None:
        """Switch to the current snapshot if it is this one reloaded (same instant and
        columns); with none left, load `restore` first."""
        found = _current(self._client, self.url, self.prefix)
        if found is None and self.restore is not None:
            with OnlineStore.open(self.restore) as files:
                log.warning("the snapshot vanished from %s: loading it again", self.url)
                load_into_redis(files, self._url, self.prefix)
            found = _current(self._client, self.url, self.prefix)
        if found is None:
            raise StoreUnavailableError(f"online store {self.url}: no snapshot loaded")
        namespace, manifest = found
        if manifest != self.manifest:
            raise StoreUnavailableError(
                f"online store {self.url}: the snapshot now there is another one "
                f"(as of {manifest.get('as_of')}, this server's is {self._as_of.isoformat()})"
            )
        self.namespace = namespace

    def close(self) -> None:
        self._client.close()

    def _table(self, table: str) -> dict[str, Any]:
        try:
            return self._tables[table]
        except KeyError:
            valid = ", ".join(self.tables) or "none"
            raise FeatureStoreError(
                f"online store {self.url} has no table {table!r}; tables: {valid}"
            ) from None


def _current(client: redis.Redis, url: str, prefix: str) -> tuple[str, dict[str, Any]] | None:
    """The namespace `<prefix>:current` points at and its manifest; none when no
    complete snapshot is there."""
    try:
        namespace = client.get(f"{prefix}:current")
        raw = None if namespace is None else client.get(f"{_text(namespace)}:manifest")
    except redis.RedisError as exc:
        raise _unavailable(url, exc) from exc
    if namespace is None or raw is None:
        return None
    return _text(namespace), json.loads(raw)


def load_into_redis(
    store: OnlineStore, url: str, prefix: str = DEFAULT_PREFIX, timeout_s: float = 30.0
) -> str:
    """Copy every table of a file store into Redis as a new snapshot, point
    `<prefix>:current` at it and delete snapshots older than the one it replaced.
    Returns the new namespace."""
    client = _client(url, timeout_s)
    stamp = store.as_of.strftime("%Y%m%dT%H%M%S")
    namespace = f"{prefix}:{stamp}:{secrets.token_hex(4)}"
    manifest = {
        "as_of": store.as_of.isoformat(),
        "tables": {
            t: {"columns": list(store.columns(t)), "key_columns": list(store.key_columns(t))}
            for t in store.tables
        },
    }
    try:
        for table in store.tables:
            chunks = list(_chunks(store, table, namespace))
            for chunk in track(chunks, desc=f"loading {table} into {masked_url(url)}"):
                client.mset(chunk)
        client.set(f"{namespace}:manifest", json.dumps(manifest))
        previous = client.get(f"{prefix}:current")
        client.set(f"{prefix}:current", namespace)
        client.rpush(f"{prefix}:snapshots", namespace)
        _drop_old(client, prefix, keep={namespace, *([_text(previous)] if previous else [])})
    except redis.RedisError as exc:
        raise _unavailable(url, exc) from exc
    finally:
        client.close()
    return namespace


def ensure_loaded(store: OnlineStore, url: str, prefix: str = DEFAULT_PREFIX) -> bool:
    """Load `store` into Redis unless the snapshot there already is the same one (same
    instant, tables and columns). Returns whether it loaded."""
    try:
        there: RedisOnlineStore | None = RedisOnlineStore.open(url, prefix)
    except StoreUnavailableError:
        raise  # a dead server is not an empty one
    except FeatureStoreError:
        there = None  # no snapshot there yet
    if there is not None:
        same = there.as_of == store.as_of and all(
            t in there.tables
            and there.columns(t) == store.columns(t)
            and there.key_columns(t) == store.key_columns(t)
            for t in store.tables
        )
        there.close()
        if same:
            return False
    load_into_redis(store, url, prefix)
    return True


def _chunks(store: OnlineStore, table: str, namespace: str) -> Iterator[dict[bytes, bytes]]:
    keys = store.keys(table)
    matrix = np.ascontiguousarray(store.matrix(table), dtype=_DTYPE)
    for start in range(0, len(matrix), _LOAD_CHUNK):
        stop = min(start + _LOAD_CHUNK, len(matrix))
        yield {
            _row_key(namespace, table, [str(k[i]) for k in keys]): matrix[i].tobytes()
            for i in range(start, stop)
        }


def _drop_old(client: redis.Redis, prefix: str, keep: set[str]) -> None:
    """Delete the keys of every snapshot but the newest `_KEEP_NAMESPACES`."""
    listed = [_text(n) for n in client.lrange(f"{prefix}:snapshots", 0, -1)]
    old = [n for n in listed[:-_KEEP_NAMESPACES] if n not in keep]
    for namespace in old:
        batch = list(client.scan_iter(match=f"{namespace}:*", count=10_000))
        for start in range(0, len(batch), 10_000):
            client.unlink(*batch[start : start + 10_000])
        client.lrem(f"{prefix}:snapshots", 0, namespace)
