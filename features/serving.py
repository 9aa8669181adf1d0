"""Serving features: the training feature rows, rebuilt from the online store.

Entity features come from the online store (as of its snapshot time); keys it has never
seen read the snapshot's no-history row. Cross features are computed at request time by
the same function training uses, so serving and training rows agree exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .compute import HYDRATED, UNKNOWN_KEY, Hydrator
from .contract import ContractData
from .cross import cross_features
from .materialize import ONLINE, read_schema
from .pit import AS_OF, TS
from .store import OnlineStore, OnlineStoreReader
from .views import ENTITY_KEYS, SURFACE_ENTITIES, VECTOR_PREFIX


class ServingFeatures:
    """Feature rows for (user, item) requests from a snapshot and the entity catalog."""

    def __init__(
        self, feature_dir: str | Path, data: ContractData, store: OnlineStoreReader | None = None
    ):
        self.as_of, self.schema = read_schema(feature_dir)
        self.store = store or OnlineStore.open(Path(feature_dir) / ONLINE)
        self.data = data
        self.hydrate = Hydrator(data)
        self._unknown: dict[str, np.ndarray] = {}

    def _entity(self, entity: str, keyed: pd.DataFrame) -> pd.DataFrame:
        keys = ENTITY_KEYS[entity]
        if entity not in self.store.tables:
            return pd.DataFrame(index=keyed.index)
        ids = tuple(keyed[k].to_numpy(dtype=object) for k in keys)
        values, known = self.store.lookup_found(entity, ids if len(ids) > 1 else ids[0])
        if not known.all():
            values[~known] = self._unknown_row(entity)
        return pd.DataFrame(values, columns=list(self.store.columns(entity)), index=keyed.index)

    def _unknown_row(self, entity: str) -> np.ndarray:
        """The features of an entity with no history (the snapshot's UNKNOWN_KEY row)."""
        if entity not in self._unknown:
            n = len(ENTITY_KEYS[entity])
            key = UNKNOWN_KEY if n == 1 else tuple([UNKNOWN_KEY] for _ in range(n))
            self._unknown[entity] = self.store.lookup(entity, key if n > 1 else [key])[0]
        return self._unknown[entity]

    def for_requests(self, rows: pd.DataFrame, surface: str) -> pd.DataFrame:
        """The same columns, in the same order, as FeatureBuilder.for_requests."""
        keyed = self.hydrate(rows, surface)
        parts = [self._entity(entity, keyed) for entity in SURFACE_ENTITIES[surface]]
        frame = pd.concat([keyed, *parts], axis=1)
        cross = cross_features(frame, self.schema.vocab, self.schema.config)
        out = pd.concat([frame, cross], axis=1)
        drop = [c for c in out.columns if c in HYDRATED or c.startswith(VECTOR_PREFIX)]
        out = out.drop(columns=drop)
        out[AS_OF] = out[AS_OF].astype(TS)
        return out
