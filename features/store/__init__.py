"""The online feature store: feature rows by entity or pair key, for serving.

`build_online_store` writes feature tables computed offline; `OnlineStore.open` maps
them for fast lookups. `OnlineStoreReader` is the interface serving codes against, so
other backends (Redis) can stand in for the file store.
"""

from pathlib import Path

from circlerank.errors import ConfigError

from .breaker import BreakerStore, StoreStatus
from .build import build_online_store
from .keys import HashedIds
from .online import Ids, IdSequence, OnlineStore, OnlineStoreReader
from .redis_store import RedisOnlineStore, ensure_loaded, load_into_redis

__all__ = [
    "BreakerStore",
    "HashedIds",
    "IdSequence",
    "Ids",
    "OnlineStore",
    "OnlineStoreReader",
    "RedisOnlineStore",
    "StoreStatus",
    "build_online_store",
    "ensure_loaded",
    "load_into_redis",
    "open_online_store",
]
SCHEMES = ("file", "redis")


def open_online_store(url: str) -> OnlineStoreReader:
    """The online store at `url`: `file:///path` (the memory-mapped store, the default)
    or `redis://host:port/db` (a snapshot loaded with `load_into_redis`)."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ConfigError(
            f"online store {url!r}: unknown backend; valid: file:///path, redis://host:port/db"
        )
    if scheme == "file":
        path = rest  # file:///srv/online is absolute, file://online relative
        if not path:
            raise ConfigError(f"online store {url!r}: no directory (e.g. file:///srv/online)")
        return OnlineStore.open(Path(path))
    return RedisOnlineStore.open(url)
