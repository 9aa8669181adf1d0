"""Serving features: the training feature rows, rebuilt from the online store.

Entity features come from the online store (as of its snapshot time); keys it has never
seen read the snapshot's no-history row. Cross features are computed at request time by
the same function training uses, so serving and training rows agree exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .compute import UNKNOWN_KEY, Hydrator
from .contract import ContractData
from .cross import cross_values
from .materialize import ONLINE, read_schema
from .pit import AS_OF, TS, days
from .store import OnlineStore, OnlineStoreReader
from .views import ENTITY_KEYS, SURFACE_ENTITIES, VECTOR_PREFIX

_Factorized = tuple[np.ndarray, np.ndarray]  # codes per row, distinct values


def _first_rows(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's group among the distinct codes, and the first row of each group."""
    group = pd.factorize(codes)[0]
    return group, np.unique(group, return_index=True)[1]


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
        self._layouts: dict[tuple[str, ...], _Layout] = {}

    def _values(self, entity: str, keys: dict[str, _Factorized]) -> np.ndarray:
        """The entity's feature rows for the requests, (rows, columns), from each key
        column's factorization. Each distinct key is looked up once: a request asks
        about one user, and often about one circle, author or topic for many items."""
        codes = [keys[k] for k in ENTITY_KEYS[entity]]
        ids: np.ndarray | tuple[np.ndarray, ...]
        if len(codes) == 1:
            group, ids = codes[0][0], codes[0][1]
        else:
            combined = codes[0][0].astype(np.int64)
            for code, uniques in codes[1:]:
                combined = combined * (len(uniques) + 1) + code
            group, first = _first_rows(combined)
            ids = tuple(uniques[code[first]] for code, uniques in codes)
        values, known = self.store.lookup_found(entity, ids)
        if not known.all():
            values[~known] = self._unknown_row(entity)
        return values[group]

    def _unknown_row(self, entity: str) -> np.ndarray:
        """The features of an entity with no history (the snapshot's UNKNOWN_KEY row)."""
        if entity not in self._unknown:
            n = len(ENTITY_KEYS[entity])
            key = UNKNOWN_KEY if n == 1 else tuple([UNKNOWN_KEY] for _ in range(n))
            self._unknown[entity] = self.store.lookup(entity, key if n > 1 else [key])[0]
        return self._unknown[entity]

    def for_requests(self, rows: pd.DataFrame, surface: str) -> pd.DataFrame:
        """The same columns, in the same order, as FeatureBuilder.for_requests."""
        keys = self.hydrate.object_keys(rows, surface)
        entities = [e for e in SURFACE_ENTITIES[surface] if e in self.store.tables]
        layout = self._layout(tuple(entities))
        wanted = {k for e in entities for k in ENTITY_KEYS[e]}
        # hydrated keys are never missing; a missing request id is its own "unseen" key
        factorized = {k: pd.factorize(keys[k], use_na_sentinel=False) for k in wanted}
        # one float block for every entity column; cross features read it by position
        parts = [self._values(e, factorized) for e in entities]
        block = np.hstack(parts) if parts else np.empty((len(rows), 0))

        def columns(names: Sequence[str]) -> np.ndarray | None:
            at = [layout.position.get(n) for n in names]
            return None if None in at else block[:, at]  # type: ignore[index]

        as_of = rows[AS_OF].astype(TS)
        cross = cross_values(columns, days(as_of), self.schema.vocab, self.schema.config)
        values = np.empty((len(rows), len(layout.scalar) + len(cross)))
        values[:, : len(layout.scalar)] = block[:, layout.scalar]
        for i, column in enumerate(cross.values(), start=len(layout.scalar)):
            values[:, i] = column
        names = [*layout.scalar_names, *cross]
        out = pd.DataFrame(values, columns=names, index=rows.index, copy=False)
        out.insert(0, "user_id", rows["user_id"].array)
        out.insert(1, "item_id", rows["item_id"].array)
        out.insert(2, AS_OF, as_of)
        return out

    def _layout(self, entities: tuple[str, ...]) -> _Layout:
        if entities not in self._layouts:
            names = [c for e in entities for c in self.store.columns(e)]
            scalar = [i for i, c in enumerate(names) if not c.startswith(VECTOR_PREFIX)]
            self._layouts[entities] = _Layout(
                position={c: i for i, c in enumerate(names)},
                scalar=np.array(scalar, dtype=np.intp),
                scalar_names=[names[i] for i in scalar],
            )
        return self._layouts[entities]


@dataclass(frozen=True)
class _Layout:
    """Where each store column sits in a request's block, and which are scalars."""

    position: dict[str, int]
    scalar: np.ndarray
    scalar_names: list[str]
