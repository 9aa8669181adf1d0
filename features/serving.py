"""Serving features: the training feature rows, rebuilt from the online store.

Entity features come from the online store (as of its snapshot time); keys it has never
seen read the snapshot's no-history row. Cross features are computed at request time by
the same function training uses, so serving and training rows agree exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .compute import UNKNOWN_KEY, Hydrator
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

    def _values(self, entity: str, keyed: pd.DataFrame) -> np.ndarray:
        """The entity's feature rows for the keyed requests, (rows, columns)."""
        keys = ENTITY_KEYS[entity]
        ids = tuple(keyed[k].to_numpy(dtype=object) for k in keys)
        values, known = self.store.lookup_found(entity, ids if len(ids) > 1 else ids[0])
        if not known.all():
            values[~known] = self._unknown_row(entity)
        return values

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
        entities = [e for e in SURFACE_ENTITIES[surface] if e in self.store.tables]
        names = [c for e in entities for c in self.store.columns(e)]
        # one float block for every entity column: cheap to slice, no per-column frames
        parts = [self._values(e, keyed) for e in entities]
        block = np.hstack(parts) if parts else np.empty((len(keyed), 0))
        frame = pd.DataFrame(block, columns=names, index=keyed.index, copy=False)
        frame[AS_OF] = keyed[AS_OF]
        cross = cross_features(frame, self.schema.vocab, self.schema.config)
        scalar = [i for i, c in enumerate(names) if not c.startswith(VECTOR_PREFIX)]
        values = np.hstack([block[:, scalar], cross.to_numpy(dtype=np.float64)])
        out = pd.DataFrame(
            values, columns=[names[i] for i in scalar] + list(cross.columns), index=keyed.index
        )
        out.insert(0, "user_id", keyed["user_id"])
        out.insert(1, "item_id", keyed["item_id"])
        out.insert(2, AS_OF, keyed[AS_OF].astype(TS))
        return out
