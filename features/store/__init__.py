"""The online feature store: feature rows by entity or pair key, for serving.

`build_online_store` writes feature tables computed offline; `OnlineStore.open` maps
them for fast lookups. `OnlineStoreReader` is the interface serving codes against, so
other backends (Redis) can stand in for the file store.
"""

from .build import build_online_store
from .online import Ids, IdSequence, OnlineStore, OnlineStoreReader

__all__ = ["IdSequence", "Ids", "OnlineStore", "OnlineStoreReader", "build_online_store"]
