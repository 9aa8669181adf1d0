"""Computing features: the one code path for training rows and for serving snapshots.

`FeatureBuilder.for_requests` gives the features of (user, item, as_of) rows — logged
impressions for training, or candidates for offline replay. `FeatureBuilder.materialize`
gives every entity's features as of one time, for the offline and online stores. Both
call the same views; cross features come from `cross.py` in both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from circlerank.arrays import combined_codes
from circlerank.progress import step

from .codes import positions
from .config import FeatureConfig
from .contract import ContractData
from .cross import cross_features, cross_inputs
from .engine import Engine, PandasEngine
from .pit import AS_OF, TS
from .streams import Vocabulary
from .views import (
    ENTITY_KEYS,
    SURFACE_ENTITIES,
    VECTOR_PREFIX,
    VIEWS,
    FeatureView,
    Streams,
    ViewParams,
)
from .views.interest import POPULATION

log = logging.getLogger(__name__)
UNKNOWN_KEY = "\x00unseen"  # a key no data set uses: its features are the no-history defaults
HYDRATED = ("city", "post_id", "circle_id", "author_id", "topic", "scope")  # keys hydrate() adds
CHUNK_ROWS = 200_000  # rows per cross-feature chunk: bounds the memory of wide vectors


class FeatureBuilder:
    """Features of one data set under one config, computed by one engine."""

    def __init__(
        self, data: ContractData, config: FeatureConfig | None = None, engine: Engine | None = None
    ) -> None:
        self.data = data
        self.config = config or FeatureConfig()
        self.engine: Engine = engine or PandasEngine()
        self.streams = Streams(data, self.config)
        self.views = tuple(v for v in VIEWS if v.available(data))
        self.off = tuple(v for v in VIEWS if not v.available(data))
        if self.off:
            missing = sorted({t for v in self.off for t in v.sources if not data.has(t)})
            log.info(
                "features off for lack of %s: %s",
                ", ".join(missing),
                ", ".join(v.name for v in self.off),
            )

    @property
    def vocab(self) -> Vocabulary:
        return self.streams.vocab

    def params(self, reference: pd.Timestamp, vectors: frozenset[str] | None = None) -> ViewParams:
        return ViewParams(self.config, self.streams.vocab, reference, vectors)

    def columns(self, view: FeatureView) -> list[str]:
        """The columns a view produces (from a query on an empty stream)."""
        stream = self.streams.get(view.name + ":stream", view.stream).iloc[:0]
        probe = pd.DataFrame({k: [UNKNOWN_KEY] for k in view.keys}).astype("str")
        probe[AS_OF] = pd.Timestamp(0, tz="UTC")
        return list(view.aggregate(stream, probe, self.params(probe[AS_OF].iloc[0])).columns)

    def view(
        self,
        view: FeatureView,
        queries: pd.DataFrame,
        reference: pd.Timestamp,
        groups: QueryGroups | None = None,
    ) -> pd.DataFrame:
        """One view's features for query rows (its keys + as_of), aligned with `queries`."""
        unique, group = self._view_unique(
            view, groups or QueryGroups(queries), self.params(reference)
        )
        return unique.iloc[group].set_axis(queries.index)

    def _view_unique(
        self, view: FeatureView, groups: QueryGroups, params: ViewParams
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """A view's features per distinct (keys, as_of), and each query's row in them."""
        unique, group = groups.distinct(view.keys, view.cadence)
        stream = self.streams.get(view.name + ":stream", view.stream)
        with step(f"view {view.name}: {len(unique):,} queries over {len(stream):,} rows"):
            got = self.engine.run(view, stream, unique, params)
        return got.reset_index(drop=True), group

    def entity(self, entity: str, queries: pd.DataFrame, reference: pd.Timestamp) -> pd.DataFrame:
        """All available views of one entity, side by side."""
        groups = QueryGroups(queries)
        parts = [self.view(v, queries, reference, groups) for v in self.views if v.entity == entity]
        if not parts:
            return pd.DataFrame(index=queries.index)
        return pd.concat(parts, axis=1)

    def for_requests(
        self,
        rows: pd.DataFrame,
        surface: str,
        reference: pd.Timestamp | None = None,
        keep_vectors: bool = False,
    ) -> pd.DataFrame:
        """Every feature of (user_id, item_id, as_of) rows on a surface, cross features
        included, aligned with `rows`. Vector columns only feed the cross features and
        are dropped unless `keep_vectors` (they are wide: one column per category)."""
        keyed = hydrate(self.data, rows, surface)
        ref = reference if reference is not None else keyed[AS_OF].max()
        if pd.isna(ref):  # no rows: any anchor will do, as in `point_in_time`
            ref = pd.Timestamp(0, tz="UTC")
        # each scalar as its values per distinct query and each row's distinct query:
        # rows are gathered once, straight into the final block
        scalars: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        vectors: list[tuple[np.ndarray, list[str], np.ndarray]] = []
        groups = QueryGroups(keyed)
        wanted = cross_inputs(self.vocab, self.config)
        params = self.params(ref, None if keep_vectors else frozenset(wanted))
        for entity in SURFACE_ENTITIES[surface]:
            with step(f"features: {entity}"):
                for view in (v for v in self.views if v.entity == entity):
                    unique, group = self._view_unique(view, groups, params)
                    vec = [c for c in unique.columns if c.startswith(VECTOR_PREFIX)]
                    for col in unique.columns.difference(vec, sort=False):
                        scalars[col] = (unique[col].to_numpy(dtype=np.float64), group)
                    if vec:
                        vectors.append((unique[vec].to_numpy(), vec, group))
        crossed: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(keyed), CHUNK_ROWS):
            rows_here = slice(start, start + CHUNK_ROWS)
            part: dict[str, object] = {AS_OF: keyed[AS_OF].iloc[rows_here].reset_index(drop=True)}
            part.update({c: v[g[rows_here]] for c, (v, g) in scalars.items() if c in wanted})
            for matrix, cols, group in vectors:
                if keep_vectors:
                    keep = list(range(len(cols)))
                else:
                    keep = [i for i, c in enumerate(cols) if c in wanted]
                if keep:
                    block = matrix[group[rows_here]][:, keep]
                    part.update(zip([cols[i] for i in keep], block.T, strict=True))
            chunk = pd.DataFrame(part)
            got = cross_features(chunk, self.vocab, self.config)
            if keep_vectors:
                got = pd.concat([chunk[[c for _, cols, _ in vectors for c in cols]], got], axis=1)
            for col in got.columns:
                crossed.setdefault(col, []).append(got[col].to_numpy())
        names = list(scalars) + [c for c in crossed if c not in scalars]
        # one float block, filled column by column: no per-column arrays to stack later
        block = np.empty((len(names), len(keyed)))
        for row, name in zip(block, names, strict=True):
            if name in crossed:
                np.concatenate(crossed[name], out=row)
            else:
                values, group = scalars[name]
                np.take(values, group, out=row)
        features = pd.DataFrame(block.T, columns=names, index=keyed.index, copy=False)
        for position, col in enumerate(("user_id", "item_id", AS_OF)):
            features.insert(position, col, keyed[col])
        return features

    def universe(self, entity: str) -> pd.DataFrame:
        """Every key of an entity that has any data: the rows a snapshot materializes."""
        d = self.data
        keys = list(ENTITY_KEYS[entity])
        if entity == "user":
            return d["users"][["user_id"]]
        if entity == "circle":
            return d["circles"][["circle_id"]]
        if entity == "post":
            return d["posts"][["post_id"]] if d.has("posts") else pd.DataFrame(columns=keys)
        if entity == "population":
            return pd.DataFrame({"scope": [POPULATION]})
        if entity == "author":
            if not d.has("posts"):
                return pd.DataFrame(columns=keys)
            return d["posts"][["author_id"]].drop_duplicates()
        frames = []
        for view in self.views:
            if view.entity == entity:
                stream = self.streams.get(view.name + ":stream", view.stream)
                renamed = stream.rename(columns={"other_id": keys[1]})
                if set(keys) <= set(renamed.columns):
                    frames.append(renamed[keys])
        if not frames:
            return pd.DataFrame(columns=keys)
        found = pd.concat(frames, ignore_index=True).dropna()
        # first occurrences by the keys' factorized codes: DataFrame.drop_duplicates
        # hashes string tuples and costs 8x more on millions of pairs
        combined = combined_codes([pd.factorize(found[k])[0].astype(np.int64) for k in keys])
        first = ~pd.Series(combined).duplicated().to_numpy()
        return found[first].reset_index(drop=True)

    def materialize(
        self, as_of: pd.Timestamp, entities: Iterable[str] | None = None
    ) -> dict[str, pd.DataFrame]:
        """Every entity's features as of `as_of`: keys, then features, one frame each.

        Each frame also has a row keyed by UNKNOWN_KEY: the features of an entity with
        no history, which serving uses for keys it has never seen."""
        out: dict[str, pd.DataFrame] = {}
        for entity in entities or ENTITY_KEYS:
            if not any(v.entity == entity for v in self.views):
                continue
            keys = self.universe(entity)
            unseen = pd.DataFrame({k: [UNKNOWN_KEY] for k in keys.columns})
            keys = pd.concat([keys, unseen], ignore_index=True).astype("str")
            queries = keys.assign(**{AS_OF: as_of})
            with step(f"materialize {entity}: {len(keys):,} keys"):
                features = self.entity(entity, queries, as_of)
            out[entity] = pd.concat([keys, features], axis=1)
        return out


class _KeyMap:
    """id -> values of some columns; unknown ids and missing values read UNKNOWN_KEY.

    Ids are looked up once per call of `rows`, then every column is taken by position.
    For the point-in-time engine, ids are found by `positions` (a native factorization,
    then the distinct ids against a str index) and values come as Arrow strings. For
    serving, ids and values stay Python strings end to end, looked up in a dict:
    pandas' `Index.get_indexer` spends 8x longer inferring the dtype of 1,000 objects
    than hashing them.
    """

    def __init__(self, ids: pd.Series, columns: dict[str, pd.Series]) -> None:
        self.index = pd.Index(ids)
        self.row_of = {key: row for row, key in enumerate(ids.tolist())}
        self.missing = len(ids)  # the last slot answers every id the table does not hold
        self.objects = {
            name: np.append(v.astype("str").fillna(UNKNOWN_KEY).to_numpy(dtype=object), UNKNOWN_KEY)
            for name, v in columns.items()
        }
        self.values = {name: pd.array(v, dtype="str") for name, v in self.objects.items()}

    def rows(self, ids: pd.Series | np.ndarray, objects: bool) -> np.ndarray:
        if objects:
            get, missing = self.row_of.get, self.missing
            return np.fromiter((get(i, missing) for i in ids.tolist()), np.int64, len(ids))
        rows = positions(pd.Series(ids) if isinstance(ids, np.ndarray) else ids, self.index)
        rows[rows < 0] = self.missing
        return rows

    def take(self, column: str, rows: np.ndarray, objects: bool) -> Any:
        return self.objects[column][rows] if objects else self.values[column].take(rows)


class Hydrator:
    """Adds the key columns of every entity of a surface to (user_id, item_id, as_of):
    the item's post, circle, author and topic, and the user's city. Unknown values
    become UNKNOWN_KEY, whose features are those of an entity with no history. The
    lookups are indexed once, so a server can hydrate every request cheaply.

    Called, it gives a frame with Arrow string keys, which the point-in-time engine
    factorizes natively; `object_keys` gives the key columns as numpy object arrays,
    which the online store hashes without converting them."""

    def __init__(self, data: ContractData) -> None:
        users = data["users"]
        self.user = _KeyMap(users["user_id"], {"city": users["city"]})
        circles = data["circles"]
        self.circle = _KeyMap(circles["circle_id"], {"topic": circles["topic"]})
        self.post = None
        if data.has("posts"):
            posts = data["posts"]
            # a post's topic is its circle's: one lookup of the post gives all three keys
            circle_rows = self.circle.rows(posts["circle_id"], objects=True)
            topic = pd.Series(self.circle.objects["topic"][circle_rows])
            self.post = _KeyMap(
                posts["post_id"],
                {"circle_id": posts["circle_id"], "author_id": posts["author_id"], "topic": topic},
            )

    def __call__(self, rows: pd.DataFrame, surface: str) -> pd.DataFrame:
        # training keys are str like the tables' own ids: a mix of object and str would
        # push point-in-time lookups onto slow Python objects
        columns = {c: rows[c].array for c in ("user_id", "item_id", AS_OF)}
        columns.update(self._keys(rows, surface, objects=False))
        return pd.DataFrame(columns, index=rows.index, copy=False)

    def object_keys(self, rows: pd.DataFrame, surface: str) -> dict[str, np.ndarray]:
        """user_id, item_id and the hydrated keys of the rows, as object arrays."""
        ids = {c: rows[c].to_numpy(dtype=object) for c in ("user_id", "item_id")}
        return {**ids, **self._keys(rows, surface, objects=True)}

    def _keys(self, rows: pd.DataFrame, surface: str, objects: bool) -> dict[str, Any]:
        if surface not in SURFACE_ENTITIES:
            raise ValueError(f"unknown surface {surface!r}; valid: {', '.join(SURFACE_ENTITIES)}")
        n = len(rows)

        def same(value: str) -> Any:
            column = np.full(n, value, dtype=object)
            return column if objects else pd.array(column, dtype="str")

        def own(ids: pd.Series) -> Any:
            return ids.to_numpy(dtype=object) if objects else ids.astype("str").array

        items = rows["item_id"]
        user_rows = self.user.rows(rows["user_id"], objects)
        keys: dict[str, Any] = {"city": self.user.take("city", user_rows, objects)}
        if surface == "feed":
            keys["post_id"] = own(items)
            if self.post is None:
                for column in ("circle_id", "author_id", "topic"):
                    keys[column] = same(UNKNOWN_KEY)
            else:
                post_rows = self.post.rows(items, objects)
                for column in ("circle_id", "author_id", "topic"):
                    keys[column] = self.post.take(column, post_rows, objects)
        else:
            keys["circle_id"] = own(items)
            keys["topic"] = self.circle.take("topic", self.circle.rows(items, objects), objects)
        keys["scope"] = same(POPULATION)
        return keys


def hydrate(data: ContractData, rows: pd.DataFrame, surface: str) -> pd.DataFrame:
    """`Hydrator(data)(rows, surface)`, for a single use."""
    return Hydrator(data)(rows, surface)


class QueryGroups:
    """The distinct (keys, as_of) rows of a query frame per key set and cadence, and each
    query's row among them. Computed once and shared by every view that asks the same
    keys: factorizing string ids is the costliest bookkeeping of a view, and an entity's
    views (and the pair entities sharing a key column) would otherwise redo it."""

    def __init__(self, queries: pd.DataFrame) -> None:
        self.queries = queries
        self._codes: dict[str, np.ndarray] = {}
        self._values: dict[str, pd.Index] = {}
        self._times: dict[str, pd.Series] = {}
        self._distinct: dict[tuple[tuple[str, ...], str], tuple[pd.DataFrame, np.ndarray]] = {}

    def _code(self, column: str) -> np.ndarray:
        if column not in self._codes:
            codes, uniques = pd.factorize(self.queries[column])
            self._codes[column] = codes.astype(np.int64)
            self._values[column] = pd.Index(uniques)
        return self._codes[column]

    def _time(self, cadence: str) -> pd.Series:
        if cadence not in self._times:
            times = self.queries[AS_OF].astype(TS)
            self._times[cadence] = times.dt.floor("D") if cadence == "day" else times
        return self._times[cadence]

    def distinct(self, keys: tuple[str, ...], cadence: str) -> tuple[pd.DataFrame, np.ndarray]:
        """(distinct rows of keys + as_of at the cadence, each query's row in them)."""
        if (keys, cadence) not in self._distinct:
            times = self._time(cadence)
            time_code = f"{AS_OF}:{cadence}"
            if time_code not in self._codes:
                self._codes[time_code] = pd.factorize(times)[0].astype(np.int64)
            codes = [self._code(k) for k in keys] + [self._codes[time_code]]
            group = pd.factorize(combined_codes(codes))[0].astype(np.int64)
            first = np.flatnonzero(~pd.Series(group).duplicated().to_numpy())
            # keys as categoricals over the column's distinct values: point-in-time
            # lookups then take their codes instead of hashing the ids again
            unique = pd.DataFrame(
                {
                    k: pd.Categorical.from_codes(self._codes[k][first], categories=self._values[k])
                    for k in keys
                }
            )
            unique[AS_OF] = times.iloc[first].reset_index(drop=True)
            self._distinct[(keys, cadence)] = (unique, group)
        return self._distinct[(keys, cadence)]


def model_columns(frame: pd.DataFrame, builder: FeatureBuilder) -> list[str]:
    """The model inputs among a feature frame's columns, in a stable order: no keys, no
    vectors (they feed cross features) and no view marked as not a model input."""
    banned = {c for v in builder.views if not v.model_input for c in builder.columns(v)}
    keys = {"user_id", "item_id", AS_OF, *HYDRATED}
    return [
        c
        for c in frame.columns
        if c not in keys and c not in banned and not c.startswith(VECTOR_PREFIX)
    ]
