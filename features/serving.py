"""Serving features: the training feature rows, rebuilt from the online store.

Entity features come from the online store (as of its snapshot time); keys it has never
seen read the snapshot's no-history row. Cross features are computed at request time by
the same function training uses, so serving and training rows agree exactly.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from circlerank.arrays import distinct_rows
from circlerank.frames import values_of

from .compute import UNKNOWN_KEY, Hydrator
from .contract import ContractData
from .cross import interest_inputs, interest_values, row_values
from .materialize import ONLINE, read_schema
from .pit import AS_OF, days
from .rows import FeatureRows
from .store import HashedIds, OnlineStore, OnlineStoreReader
from .views import ENTITY_KEYS, SURFACE_ENTITIES, VECTOR_PREFIX
from .views.interest import POPULATION

# keys an item alone determines, per surface (plus the one-row population scope)
ITEM_KEYS = {
    "feed": {"post_id", "circle_id", "author_id", "topic", "scope"},
    "circle_suggestions": {"circle_id", "topic", "scope"},
}

_Codes = tuple[np.ndarray, np.ndarray]  # codes per row, distinct values
# the same, with the values' hashes where kept (item keys, users)
_Factorized = tuple[np.ndarray, np.ndarray | HashedIds]
_Part = tuple[np.ndarray, np.ndarray]  # distinct feature rows, each request row's index
_Spans = tuple[tuple[int, tuple[int, ...]], ...]  # runs of columns of one part: (part, columns)
_Lookup = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (item key values, cities) -> rows
_NO_TABLE = (np.empty((0, 0)), np.zeros(0, dtype=bool))
_NO_CODES = (np.empty(0, dtype=np.intp), np.empty(0, dtype=object))


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
        self._items: dict[str, _ItemCache] = {}
        self._by_city: dict[str, dict[str, _CityRows]] = {}
        self._lock = threading.Lock()

    def _values(self, entity: str, keys: dict[str, _Factorized]) -> _Part:
        """The entity's feature rows for the requests, as its distinct rows and each
        request row's index into them, from each key column's factorization. Each
        distinct key is looked up once: a request asks about one user, and often about
        one circle, author or topic for many items."""
        codes = [keys[k] for k in ENTITY_KEYS[entity]]
        ids: np.ndarray | HashedIds | tuple[np.ndarray | HashedIds, ...]
        varying = [i for i, (_, uniques) in enumerate(codes) if len(uniques) > 1]
        if len(codes) == 1:
            group, ids = codes[0][0], codes[0][1]
        elif len(varying) <= 1:
            # a pair with one side fixed (one user asking about many items): the
            # varying side's codes are already the distinct pairs
            v = varying[0] if varying else 0
            group, n = codes[v][0], len(codes[v][1])
            ids = tuple(u if i == v else _repeat(u, n) for i, (_, u) in enumerate(codes))
        else:
            first, group = distinct_rows([code for code, _ in codes], len(codes[0][0]))
            ids = tuple(_take(uniques, code[first]) for code, uniques in codes)
        values, known = self.store.lookup_found(entity, ids)
        if not known.all():
            values[~known] = self._unknown_row(entity)
        return values, group

    def _unknown_row(self, entity: str) -> np.ndarray:
        """The features of an entity with no history (the snapshot's UNKNOWN_KEY row)."""
        if entity not in self._unknown:
            n = len(ENTITY_KEYS[entity])
            key = UNKNOWN_KEY if n == 1 else tuple([UNKNOWN_KEY] for _ in range(n))
            self._unknown[entity] = self.store.lookup(entity, key if n > 1 else [key])[0]
        return self._unknown[entity]

    def _entity_values(
        self, rows: pd.DataFrame, surface: str, entities: list[str]
    ) -> list[np.ndarray]:
        """Each entity's feature rows for the request rows, by the generic path."""
        keys = self.hydrate.object_keys(rows, surface)
        wanted = {k for e in entities for k in ENTITY_KEYS[e]}
        # hydrated keys are never missing; a missing request id is its own "unseen" key
        factorized = {k: pd.factorize(keys[k], use_na_sentinel=False) for k in wanted}
        return [
            distinct[group] for distinct, group in (self._values(e, factorized) for e in entities)
        ]

    def _item_cache(self, surface: str, entities: list[str]) -> _ItemCache:
        with self._lock:
            if surface not in self._items:
                own = [e for e in entities if set(ENTITY_KEYS[e]) <= ITEM_KEYS[surface]]
                self._items[surface] = _ItemCache(own, ITEM_KEYS[surface] - {"scope"})
                self._by_city[surface] = {
                    e: _CityRows(e, key)
                    for e in entities
                    if (key := _item_key_with_city(ENTITY_KEYS[e], ITEM_KEYS[surface]))
                }
            return self._items[surface]

    def _parts(
        self, rows: pd.DataFrame, surface: str, entities: list[str]
    ) -> tuple[list[_Part], dict[str, _Factorized]]:
        """Each entity's feature rows for the request rows, entities in order, as
        distinct rows and an index per request row (not yet gathered: a request reads
        a few of the vector columns, and one user's row serves all its items); and
        each key column's factorization.

        An item's own entities (its post, circle, author) and hydrated keys do not
        change while the snapshot serves, so they are computed once per item and
        gathered by the item's code; only the user's entities and the user x item
        pairs are looked up per request."""
        cache = self._item_cache(surface, entities)
        users = values_of(rows, "user_id", object)
        user_code, user_ids = _factorized_users(users)
        items = values_of(rows, "item_id", object)
        # many users (offline batches) share most items: look each distinct one up once
        at, items = (
            pd.factorize(items, use_na_sentinel=False) if len(user_ids) > 1 else (None, items)
        )
        code = cache.codes(items)
        if (code < 0).any():
            missing = np.asarray(pd.unique(items[code < 0]))
            fresh = pd.DataFrame({"user_id": UNKNOWN_KEY, "item_id": missing, AS_OF: self.as_of})
            keys = self.hydrate.object_keys(fresh, surface)
            cache.add(missing, keys, self._entity_values(fresh, surface, cache.entities))
            code = cache.codes(items)
        if at is not None:
            code = code[at]
        # keys of the entities looked up per request, and of the interest features
        # (an item's own entities need none: their rows come by the item's code)
        layout = self._layout(tuple(entities))
        by_city = self._by_city[surface]
        wanted = _wanted([e for e in entities if e not in cache.entities and e not in by_city])
        wanted |= set(self._interest_keys(layout))
        factorized: dict[str, _Factorized] = {
            k: cache.factorized(k, code) for k in cache.keys if k in wanted
        }
        factorized["user_id"] = (user_code, HashedIds.of(user_ids))
        cities = self._cities(user_ids) if (by_city or "city" in wanted) and len(rows) else None
        if "city" in wanted:
            city_of_user, city = cities if cities is not None else _NO_CODES
            factorized["city"] = (city_of_user[user_code], city)
        if "scope" in wanted:
            factorized["scope"] = (np.zeros(len(rows), dtype=np.intp), np.array([POPULATION]))

        def part(entity: str) -> _Part:
            if entity in cache.entities:
                return cache.part(entity, code)
            if cities is not None and entity in by_city:
                return self._city_part(by_city[entity], cache, code, user_code, cities)
            return self._values(entity, factorized)

        return [part(e) for e in entities], factorized

    def _cities(self, users: np.ndarray) -> _Codes:
        """Each distinct user's code among the distinct cities of the users, and those."""
        user = self.hydrate.user
        city = np.asarray(user.take("city", user.rows(users, True), True))
        if len(city) == 1:
            return np.zeros(1, dtype=np.intp), city
        return pd.factorize(city, use_na_sentinel=False)

    def _city_part(
        self,
        rows: _CityRows,
        cache: _ItemCache,
        code: np.ndarray,
        user_code: np.ndarray,
        cities: _Codes,
    ) -> _Part:
        """An item key x city entity's rows for the request rows, from each city's
        table by the item's key code."""
        key_code, key_values = cache.key_codes(rows.key, code), cache.values(rows.key)
        city_of_user, city = cities
        row_city = city_of_user[user_code]

        def lookup(values_of_key: np.ndarray, city_ids: np.ndarray) -> np.ndarray:
            ids = tuple(
                values_of_key if k == rows.key else city_ids for k in ENTITY_KEYS[rows.entity]
            )
            values, known = self.store.lookup_found(rows.entity, ids)
            if not known.all():
                values[~known] = self._unknown_row(rows.entity)
            return values

        tables = [
            rows.table(name, key_code[row_city == i], key_values, lookup)
            for i, name in enumerate(city)
        ]
        if len(tables) == 1:
            return tables[0], key_code
        offset = np.cumsum([0, *(len(t) for t in tables[:-1])])
        return np.vstack(tables), offset[row_city] + key_code

    def for_requests(self, rows: pd.DataFrame, surface: str) -> pd.DataFrame:
        """The same columns, in the same order, as FeatureBuilder.for_requests."""
        return self.rows(rows, surface).frame()

    def rows(self, rows: pd.DataFrame, surface: str) -> FeatureRows:
        """`for_requests` as one float matrix, which models read without a frame.

        Where each value comes from:
        - entity features (user, post, circle, author, user x circle, ...): the online
          store's row for the request row's key as of the snapshot (`_parts`: each
          entity's distinct rows, and each request row's index into them), or the
          no-history row for a key the snapshot never saw;
        - interest cross features (the user's category shares against the circle's
          profile): computed once per distinct (user, circle) pair from those entity
          columns (`_ColumnReader` over the pairs' first rows), then spread to the rows;
        - row cross features (post age, tie strength, city share): computed per row
          from the entity columns and the row's `as_of`.
        """
        entities = [e for e in SURFACE_ENTITIES[surface] if e in self.store.tables]
        layout = self._layout(tuple(entities))
        parts, keys = self._parts(rows, surface, entities)
        vocab, config = self.schema.vocab, self.schema.config
        first, inverse = distinct_rows([keys[k][0] for k in self._interest_keys(layout)], len(rows))
        interest = interest_values(_ColumnReader(layout, parts, first), vocab, config)
        cross = {name: value[inverse] for name, value in interest.items()}
        cross.update(row_values(_ColumnReader(layout, parts), days(rows[AS_OF])))
        values = np.empty((len(rows), layout.width + len(cross)))
        for part, (start, stop), scalar in zip(parts, layout.slices, layout.scalar, strict=True):
            _gather_into(values[:, start:stop], part, scalar)
        for i, column in enumerate(cross.values(), start=layout.width):
            values[:, i] = column
        names, position = layout.columns(list(cross))
        return FeatureRows(rows, values, names, position)

    def _interest_keys(self, layout: _Layout) -> list[str]:
        """The key columns of the entities holding the interest features' inputs."""
        if layout.interest_keys is None:
            inputs = interest_inputs(self.schema.vocab, self.schema.config)
            at = layout.position
            held = {layout.entities[at[c][0]] for c in inputs if c in at}
            layout.interest_keys = sorted({k for entity in held for k in ENTITY_KEYS[entity]})
        return layout.interest_keys

    def _layout(self, entities: tuple[str, ...]) -> _Layout:
        if entities not in self._layouts:
            position: dict[str, tuple[int, int]] = {}
            scalar: list[tuple[int, ...]] = []
            slices: list[tuple[int, int]] = []
            names: list[str] = []
            for p, entity in enumerate(entities):
                columns = list(self.store.columns(entity))
                position.update({c: (p, j) for j, c in enumerate(columns)})
                mine = [j for j, c in enumerate(columns) if not c.startswith(VECTOR_PREFIX)]
                slices.append((len(names), len(names) + len(mine)))
                scalar.append(tuple(mine))
                names += [columns[j] for j in mine]
            self._layouts[entities] = _Layout(entities, position, scalar, slices, names)
        return self._layouts[entities]


@dataclass
class _ColumnReader:
    """Named entity feature columns for every request row, or for the `subset` rows:
    what the cross features read (features/cross.py `Columns`). Only the parts asked
    for are subset, once each."""

    layout: _Layout
    parts: list[_Part]
    subset: np.ndarray | None = None
    _chosen: dict[int, _Part] = field(default_factory=dict)

    def __call__(self, names: Sequence[str]) -> np.ndarray | None:
        spans = self.layout.spans(names)
        if spans is None:
            return None
        if len(spans) == 1:
            return _gather(self._part(spans[0][0]), spans[0][1])
        return np.column_stack([_gather(self._part(p), at) for p, at in spans])

    def _part(self, p: int) -> _Part:
        if p not in self._chosen:
            distinct, group = self.parts[p]
            self._chosen[p] = (distinct, group if self.subset is None else group[self.subset])
        return self._chosen[p]


def _gather(part: _Part, columns: tuple[int, ...]) -> np.ndarray:
    """The part's columns for every request row, (rows, len(columns)). Columns come
    in a few contiguous runs (vector columns sit together), and gathering rows of a
    slice is far cheaper than a two-axis fancy index."""
    distinct, group = part
    runs = _runs(columns)
    if not runs:
        return np.empty((len(group), 0))
    if len(runs) == 1:
        return distinct[group, runs[0][0] : runs[0][1]]
    return np.concatenate([distinct[group, a:b] for a, b in runs], axis=1)


def _gather_into(out: np.ndarray, part: _Part, columns: tuple[int, ...]) -> None:
    """`out[:] = _gather(part, columns)`; a part of one distinct row (the user's own
    entities in an API request) is broadcast instead of gathered into a copy first."""
    distinct = part[0]
    out[:] = distinct[0, list(columns)] if len(distinct) == 1 else _gather(part, columns)


@functools.lru_cache(maxsize=1024)
def _runs(columns: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """[start, stop) spans of consecutive column numbers: a request asks for the same
    few column sets again and again."""
    runs: list[tuple[int, int]] = []
    for column in columns:
        if runs and runs[-1][1] == column:
            runs[-1] = (runs[-1][0], column + 1)
        else:
            runs.append((column, column + 1))
    return tuple(runs)


def _part_runs(at: list[tuple[int, int]]) -> _Spans:
    """(part, column) positions as runs of one part: ((part, its columns), ...)."""
    runs = itertools.groupby(at, key=lambda position: position[0])
    return tuple((p, tuple(j for _, j in run)) for p, run in runs)


def _factorized_users(users: np.ndarray) -> _Codes:
    """`pd.factorize` of the request's users; an API request (one user) skips hashing
    (a missing id is left to pandas, which makes it NaN)."""
    if len(users) and isinstance(users[0], str) and (users == users[0]).all():
        return np.zeros(len(users), dtype=np.intp), users[:1].copy()
    return pd.factorize(users, use_na_sentinel=False)


def _repeat(ids: np.ndarray | HashedIds, n: int) -> np.ndarray | HashedIds:
    return ids.repeat(n) if isinstance(ids, HashedIds) else np.repeat(ids, n)


def _take(ids: np.ndarray | HashedIds, index: np.ndarray) -> np.ndarray | HashedIds:
    return ids.take(index) if isinstance(ids, HashedIds) else ids[index]


def _wanted(entities: Sequence[str]) -> set[str]:
    return {k for e in entities for k in ENTITY_KEYS[e]}


def _item_key_with_city(keys: tuple[str, ...], item_keys: set[str]) -> str | None:
    """The item key of an entity keyed by one item key and the user's city, or None."""
    if len(keys) != 2 or "city" not in keys:
        return None
    (other,) = set(keys) - {"city"}
    return other if other in item_keys - {"scope"} else None


class _ItemCache:
    """Per item: a dense code, its hydrated keys (as codes into per-key vocabularies)
    and the feature rows of the entities it alone determines. Grows as new items are
    asked; bounded by the items of the data."""

    def __init__(self, entities: list[str], keys: set[str]) -> None:
        self.entities = entities
        self.keys = sorted(keys)
        self.code: dict[object, int] = {}
        self._key_code = {k: np.empty(0, dtype=np.intp) for k in self.keys}
        self._vocab: dict[str, dict[object, int]] = {k: {} for k in self.keys}
        self._values_of: dict[str, list[object]] = {k: [] for k in self.keys}
        # each key's vocabulary with its hashes: the store needn't hash them again
        self._hashed = {k: HashedIds.of(np.empty(0, dtype=object)) for k in self.keys}
        self._rows: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def add(self, items: np.ndarray, keys: dict[str, np.ndarray], rows: list[np.ndarray]) -> None:
        with self._lock:
            fresh = [i for i, item in enumerate(items) if item not in self.code]
            if not fresh:
                return
            start = len(self.code)
            for k in self.keys:
                vocab, values = self._vocab[k], self._values_of[k]
                codes = np.empty(len(fresh), dtype=np.intp)
                for n, i in enumerate(fresh):
                    value = keys[k][i]
                    if value not in vocab:
                        vocab[value] = len(values)
                        values.append(value)
                    codes[n] = vocab[value]
                self._key_code[k] = np.concatenate([self._key_code[k], codes])
                added = np.empty(len(values) - len(self._hashed[k]), dtype=object)
                added[:] = values[len(self._hashed[k]) :]
                self._hashed[k] = self._hashed[k].concat(HashedIds.of(added))
            for entity, block in zip(self.entities, rows, strict=True):
                old = self._rows.get(entity, np.empty((0, block.shape[1])))
                self._rows[entity] = np.vstack([old, block[fresh]])
            # codes last: a concurrent request finds an item only once its keys and
            # rows are in place
            for n, i in enumerate(fresh):
                self.code[items[i]] = start + n

    def codes(self, items: np.ndarray) -> np.ndarray:
        """Each item's code; -1 for an item not cached yet."""
        get = self.code.get
        return np.fromiter((get(i, -1) for i in items), dtype=np.intp, count=len(items))

    def factorized(self, key: str, code: np.ndarray) -> _Factorized:
        """Each row's index among the distinct key values, and those values (sorted by
        key code, as np.unique would give them): one pass over a mask of the vocabulary
        instead of a sort."""
        codes = self._key_code[key][code]
        hashed = self._hashed[key]
        present = np.zeros(len(hashed), dtype=bool)
        present[codes] = True
        return (np.cumsum(present) - 1)[codes], hashed.take(np.flatnonzero(present))

    def part(self, entity: str, code: np.ndarray) -> _Part:
        return self._rows[entity], code

    def key_codes(self, key: str, code: np.ndarray) -> np.ndarray:
        """Each item's code in the vocabulary of its `key` values."""
        return self._key_code[key][code]

    def values(self, key: str) -> np.ndarray:
        """The vocabulary of `key`: the values by code."""
        return self._hashed[key].ids


class _CityRows:
    """Feature rows of an entity keyed by an item key and the user's city (circle_city),
    per city, by the item cache's code of the key's value. Each (value, city) is looked
    up once while the snapshot serves: the API's requests come from a few cities and
    their items from a few thousand circles."""

    def __init__(self, entity: str, key: str) -> None:
        self.entity = entity
        self.key = key
        # city -> (rows by key code, whether each row was looked up); replaced, never
        # written in place, so a request reads a consistent pair without the lock
        self._tables: dict[object, tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()

    def table(
        self,
        city: object,
        codes: np.ndarray,
        values: np.ndarray,
        lookup: _Lookup,
    ) -> np.ndarray:
        """The city's rows by key code, the rows of `codes` among them; `values` are the
        key's values by code, `lookup` gives the rows of (key values, cities)."""
        rows, done = self._tables.get(city, _NO_TABLE)
        if len(done) > codes.max(initial=-1) and done[codes].all():
            return rows
        with self._lock:
            rows, done = self._tables.get(city, _NO_TABLE)
            wanted = np.zeros(len(values), dtype=bool)
            wanted[codes] = True
            wanted[: len(done)] &= ~done
            missing = np.flatnonzero(wanted)
            if len(missing) == 0:  # another request filled them meanwhile
                return rows
            found = lookup(values[missing], np.full(len(missing), city, dtype=object))
            grown = np.full((len(values), found.shape[1]), np.nan)
            filled = np.zeros(len(values), dtype=bool)
            if len(done):
                grown[: len(rows)], filled[: len(done)] = rows, done
            grown[missing], filled[missing] = found, True
            self._tables[city] = (grown, filled)
            return grown


@dataclass
class _Layout:
    """Where each store column sits (entity, column), the scalar columns of each entity
    and the slice of the output they fill, and the output's columns with their positions
    per set of cross features (built once: an index of strings is costly to build per
    request)."""

    entities: tuple[str, ...]
    position: dict[str, tuple[int, int]]
    scalar: list[tuple[int, ...]]
    slices: list[tuple[int, int]]
    scalar_names: list[str]
    _columns: dict[tuple[str, ...], tuple[pd.Index, dict[str, int]]] = field(default_factory=dict)
    _spans: dict[tuple[str, ...], _Spans | None] = field(default_factory=dict)
    interest_keys: list[str] | None = None  # set by ServingFeatures on first use

    @property
    def width(self) -> int:
        return len(self.scalar_names)

    def spans(self, names: Sequence[str]) -> _Spans | None:
        """The named columns as runs of one part each, in order: (part, its column
        numbers); None when any is absent. Asked for the same few name lists again and
        again, so kept."""
        key = tuple(names)
        if key not in self._spans:
            at = [self.position.get(n) for n in key]
            found = [pj for pj in at if pj is not None]
            self._spans[key] = None if len(found) < len(at) else _part_runs(found)
        return self._spans[key]

    def columns(self, cross: list[str]) -> tuple[pd.Index, dict[str, int]]:
        """The output's columns with these cross features, and each one's position."""
        key = tuple(cross)
        if key not in self._columns:
            names = [*self.scalar_names, *cross]
            self._columns[key] = (pd.Index(names), {c: i for i, c in enumerate(names)})
        return self._columns[key]
