"""Candidate retrieval: implicit-feedback ALS factors and a faiss inner-product index."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TypeAlias, TypeVar

import faiss
import numpy as np
import pandas as pd
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from circlerank.arrays import ranks_within
from circlerank.errors import CircleRankError, ConfigError

T = TypeVar("T")
Ids: TypeAlias = Sequence[str] | np.ndarray | pd.Series  # ordered ids

FIT_THREADS = min(2, os.cpu_count() or 1)
# Bounds the (queries x depth) result arrays of one faiss search call.
SEARCH_BUDGET = 8_000_000
# Searches of at most this many queries run on one OpenMP thread: a request's one user
# scans 100,000 items in about 1 ms on one thread, where handing half the scan to a
# second thread took 16 ms on a busy 2-core machine (ranking/sources.py asks per request).
ONE_THREAD_UP_TO = 8

DEFAULT_ACTION_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"click": 1.0, "like": 2.0, "comment": 3.0, "share": 3.0, "join": 4.0}
)

USER_FACTORS = "user_factors.npy"
ITEM_FACTORS = "item_factors.npy"
USER_IDS = "user_ids.json"
ITEM_IDS = "item_ids.json"
PARAMS = "params.json"
INDEX = "items.faiss"

RECOMMEND_COLUMNS = ("user_id", "item_id", "score", "rank")
SIMILAR_COLUMNS = ("item_id", "similar_id", "score", "rank")


@dataclass(frozen=True)
class ALSParams:
    """ALS hyperparameters; confidence of an observed pair is 1 + alpha * weight."""

    factors: int = 32
    regularization: float = 0.05
    iterations: int = 15
    alpha: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("factors", "iterations", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ConfigError(f"ALS {name} must be an integer, got {value!r}")
        if self.factors <= 0:
            raise ConfigError(f"ALS factors must be > 0, got {self.factors}")
        if self.iterations <= 0:
            raise ConfigError(f"ALS iterations must be > 0, got {self.iterations}")
        if not _is_real(self.regularization) or not self.regularization >= 0:
            raise ConfigError(f"ALS regularization must be >= 0, got {self.regularization!r}")
        if not _is_real(self.alpha) or not self.alpha > 0:
            raise ConfigError(f"ALS alpha must be > 0, got {self.alpha!r}")


def _is_real(value: object) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _as_ids(values: Collection[str] | Ids) -> np.ndarray:
    if isinstance(values, str):
        raise ConfigError(f"expected a collection of ids, got the string {values!r}")
    if isinstance(values, pd.Series | pd.Index | np.ndarray):
        return np.asarray(values, dtype=object).astype(str)
    return np.array(list(values), dtype=object).astype(str)


def _row_of(ids: pd.Index) -> dict[str, int]:
    return {str(i): row for row, i in enumerate(ids.tolist())}


def _rows(row_of: dict[str, int], ids: Collection[str] | Ids) -> np.ndarray:
    """Each id's row, -1 where unknown; ids compare as text, as `_as_ids` makes them."""
    if isinstance(ids, str):
        raise ConfigError(f"expected a collection of ids, got the string {ids!r}")
    values = ids.tolist() if isinstance(ids, pd.Series | pd.Index | np.ndarray) else list(ids)
    get = row_of.get
    return np.fromiter(
        (get(i if type(i) is str else str(i), -1) for i in values), np.intp, len(values)
    )


def _known(rows: np.ndarray) -> np.ndarray:
    return rows[rows >= 0]


def _positions(distinct: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each of `values` (all found in `distinct`, whose values are distinct) as its
    position in `distinct`."""
    order = np.argsort(distinct, kind="stable")
    return order[np.searchsorted(distinct, values, sorter=order)]


@dataclass(frozen=True)
class TopItems:
    """Top-k items per user as arrays, in `recommend`'s row order (by user id, then
    rank): a request's candidate source reads them without a frame of str columns."""

    user_id: np.ndarray  # object
    item_id: np.ndarray  # object
    score: np.ndarray  # float64
    rank: np.ndarray  # int64

    @classmethod
    def none(cls) -> TopItems:
        ids = np.empty(0, dtype=object)
        return cls(ids, ids, np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64))

    @classmethod
    def of(
        cls, user_id: np.ndarray, item_id: np.ndarray, score: np.ndarray, rank: np.ndarray
    ) -> TopItems:
        """From each user's rows in rank order, the users in any order."""
        if len(user_id) and (user_id != user_id[0]).any():
            order = np.lexsort((rank, pd.factorize(user_id, sort=True)[0]))
            return cls(user_id[order], item_id[order], score[order], rank[order])
        return cls(user_id, item_id, score, rank)

    def frame(self) -> pd.DataFrame:
        """user_id, item_id (str), score, rank."""
        if not len(self.user_id):
            return _empty(RECOMMEND_COLUMNS)
        columns = {"user_id": self.user_id, "item_id": self.item_id}
        out = pd.DataFrame({**columns, "score": self.score, "rank": self.rank})
        return out.astype({"user_id": "str", "item_id": "str"})


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise CircleRankError(
            f"{what}: missing column(s) {', '.join(missing)} "
            f"(columns present: {', '.join(map(str, frame.columns)) or 'none'})"
        )


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"k must be an integer >= 1, got {k!r}")


def interactions_from_events(
    events: pd.DataFrame,
    weights: Mapping[str, float] = DEFAULT_ACTION_WEIGHTS,
    until: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Sum action weights per (user_id, item_id); unmapped actions are skipped, ts < until."""
    for action, w in weights.items():
        if not _is_real(w) or not w > 0:
            raise ConfigError(f"weight of action {action!r} must be > 0, got {w!r}")
    _require(
        events, ["user_id", "item_id", "action"] + (["ts"] if until is not None else []), "events"
    )
    keep = events["action"].isin(list(weights)).to_numpy()
    if until is not None:
        keep = keep & (events["ts"] < _like_column(until, events["ts"])).to_numpy()
    rows = events.loc[keep, ["user_id", "item_id", "action"]]
    out = pd.DataFrame(
        {
            "user_id": rows["user_id"].astype(str).to_numpy(),
            "item_id": rows["item_id"].astype(str).to_numpy(),
            "weight": rows["action"].map(dict(weights)).astype("float64").to_numpy(),
        }
    )
    return out.groupby(["user_id", "item_id"], as_index=False, sort=True)["weight"].sum()


def _like_column(until: pd.Timestamp, ts: pd.Series) -> pd.Timestamp:
    # Contract timestamps are UTC-aware and naive values mean UTC: match the column so
    # pandas compares instead of raising.
    until = pd.Timestamp(until)
    aware = isinstance(ts.dtype, pd.DatetimeTZDtype)
    if aware and until.tzinfo is None:
        return until.tz_localize("UTC")
    if not aware and until.tzinfo is not None:
        return until.tz_convert("UTC").tz_localize(None)
    return until


class ALSModel:
    """User and item factors from implicit ALS, with a faiss index over item vectors."""

    def __init__(self, params: ALSParams | None = None) -> None:
        self.params = params if params is not None else ALSParams()
        self._users: pd.Index | None = None
        self._items: pd.Index | None = None
        self._user_row: dict[str, int] = {}
        self._item_row: dict[str, int] = {}
        self._user_ids = np.empty(0, dtype=object)
        self._item_ids = np.empty(0, dtype=object)
        self._user_factors: np.ndarray | None = None
        self._item_factors: np.ndarray | None = None
        self._index: faiss.IndexFlatIP | None = None

    def fit(self, interactions: pd.DataFrame) -> ALSModel:
        """Train on (user_id, item_id, weight > 0) rows; weights of repeated pairs add up."""
        _require(interactions, ["user_id", "item_id", "weight"], "interactions")
        if len(interactions) == 0:
            raise CircleRankError("cannot fit ALS: got 0 interactions")
        weight = pd.to_numeric(interactions["weight"], errors="coerce").to_numpy(np.float64)
        bad = ~(np.isfinite(weight) & (weight > 0))
        if bad.any():
            example = interactions["weight"].to_numpy()[np.flatnonzero(bad)[0]]
            raise CircleRankError(
                f"interactions: weight must be finite and > 0; {int(bad.sum())} row(s) are not, "
                f"e.g. {example!r}"
            )
        user_rows, users = pd.factorize(_as_ids(interactions["user_id"]), sort=True)
        item_rows, items = pd.factorize(_as_ids(interactions["item_id"]), sort=True)
        matrix = sp.csr_matrix(
            (weight, (user_rows, item_rows)), shape=(len(users), len(items)), dtype=np.float64
        )
        matrix.sum_duplicates()
        # implicit uses a stored value c as the confidence itself (and alpha * c when its own
        # alpha != 1), so the 1 + alpha * weight of Hu et al. is applied here.
        matrix.data = 1.0 + self.params.alpha * matrix.data
        matrix = matrix.astype(np.float32)

        # Nested BLAS threads inside implicit's OpenMP workers oversubscribe the cores.
        with threadpool_limits(limits=1, user_api="blas"):
            als = AlternatingLeastSquares(
                factors=self.params.factors,
                regularization=self.params.regularization,
                alpha=1.0,
                iterations=self.params.iterations,
                dtype=np.float32,
                num_threads=FIT_THREADS,
                random_state=self.params.seed,
            )
            als.fit(matrix, show_progress=False)

        self._set_state(
            pd.Index(users, dtype=object),
            pd.Index(items, dtype=object),
            np.asarray(als.user_factors),
            np.asarray(als.item_factors),
        )
        return self

    def _set_state(
        self,
        users: pd.Index,
        items: pd.Index,
        user_factors: np.ndarray,
        item_factors: np.ndarray,
        index: faiss.IndexFlatIP | None = None,
    ) -> None:
        self._users = users
        self._items = items
        # id -> row as plain dicts: a request looks up one user and a few hundred items,
        # where Index.get_indexer costs about ten times a dict's lookups
        self._user_row = _row_of(users)
        self._item_row = _row_of(items)
        self._user_ids = users.to_numpy(dtype=object)
        self._item_ids = items.to_numpy(dtype=object)
        self._user_factors = np.ascontiguousarray(user_factors, dtype=np.float32)
        self._item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
        if index is None:
            index = faiss.IndexFlatIP(self._item_factors.shape[1])
            index.add(self._item_factors)
        self._index = index

    def _fitted(self) -> tuple[pd.Index, pd.Index, np.ndarray, np.ndarray, faiss.IndexFlatIP]:
        if (
            self._users is None
            or self._items is None
            or self._user_factors is None
            or self._item_factors is None
            or self._index is None
        ):
            raise CircleRankError("ALS model is not fitted: call fit() or ALSModel.load() first")
        return self._users, self._items, self._user_factors, self._item_factors, self._index

    @property
    def user_ids(self) -> np.ndarray:
        """Known user ids, in factor-row order."""
        return self._fitted()[0].to_numpy(dtype=object, copy=True)

    @property
    def item_ids(self) -> np.ndarray:
        """Known item ids, in factor-row order."""
        return self._fitted()[1].to_numpy(dtype=object, copy=True)

    @property
    def user_factors(self) -> np.ndarray:
        """(n_users, factors) float32, rows aligned with user_ids."""
        return self._fitted()[2]

    @property
    def item_factors(self) -> np.ndarray:
        """(n_items, factors) float32, rows aligned with item_ids."""
        return self._fitted()[3]

    def recommend(
        self,
        user_ids: Ids,
        k: int,
        exclude: pd.DataFrame | None = None,
        allowed: Collection[str] | None = None,
    ) -> pd.DataFrame:
        """Top-k items per known user by dot product: user_id, item_id, score, rank (0-based).

        Pairs in `exclude` (user_id, item_id) are skipped and, when `allowed` is given, only
        those items are returned. Unknown users get no rows.
        """
        return self.top_items(user_ids, k, exclude, allowed).frame()

    def top_items(
        self,
        user_ids: Ids,
        k: int,
        exclude: pd.DataFrame | None = None,
        allowed: Collection[str] | None = None,
    ) -> TopItems:
        """The rows of `recommend` as arrays (a request's candidate source needs no frame)."""
        _check_k(k)
        _, items, user_factors, _, index = self._fitted()
        rows = _known(_rows(self._user_row, pd.unique(_as_ids(user_ids))))

        search_params = None
        n_candidates = len(items)
        if allowed is not None:
            allowed_rows = _known(_rows(self._item_row, pd.unique(_as_ids(allowed))))
            allowed_rows = allowed_rows.astype(np.int64)
            n_candidates = len(allowed_rows)
            # faiss filters during the scan, so a small allowed set still yields k items.
            selector = faiss.IDSelectorBatch(allowed_rows)
            # The params hold a raw pointer: the local `selector` keeps it alive.
            search_params = faiss.SearchParameters()
            search_params.sel = selector
        if len(rows) == 0 or n_candidates == 0:
            return TopItems.none()

        n_items = len(items)
        excluded_keys = np.empty(0, dtype=np.int64)
        extra = np.zeros(len(rows), dtype=np.int64)
        if exclude is not None and len(exclude):
            _require(exclude, ["user_id", "item_id"], "exclude")
            eu = _rows(self._user_row, _as_ids(exclude["user_id"]))
            ei = _rows(self._item_row, _as_ids(exclude["item_id"]))
            known = (eu >= 0) & (ei >= 0) & np.isin(eu, rows)
            if allowed is not None:
                known &= np.isin(ei, allowed_rows)
            excluded_keys = np.unique(eu[known].astype(np.int64) * n_items + ei[known])
            # per asked user (rows are distinct), without a pass over every user
            extra = np.bincount(_positions(rows, excluded_keys // n_items), minlength=len(rows))
        # Searching k + (the user's exclusions) deep leaves k survivors. Depths round up to
        # powers of two so a few power users do not make every user's search deep.
        need = np.minimum(k + extra, n_candidates)
        depths = np.minimum(2 ** np.ceil(np.log2(need)).astype(np.int64), n_candidates)

        parts = []
        for depth in np.unique(depths):
            group = rows[depths == depth]
            scores, found = _search(index, user_factors[group], int(depth), search_params)
            user_row = np.repeat(group, depth)
            item_row = found.ravel()
            score = scores.ravel()
            keep = item_row >= 0
            if len(excluded_keys):
                keep &= ~_member(user_row.astype(np.int64) * n_items + item_row, excluded_keys)
            user_row, item_row, score = user_row[keep], item_row[keep], score[keep]
            rank = ranks_within(user_row)
            top = rank < k
            parts.append((user_row[top], item_row[top], score[top], rank[top]))
        user_row, item_row, score, rank = (np.concatenate(col) for col in zip(*parts, strict=True))
        return TopItems.of(
            self._user_ids[user_row], self._item_ids[item_row], score.astype(np.float64), rank
        )

    def score(self, user_ids: Ids, item_ids: Ids) -> np.ndarray:
        """Dot product per aligned (user, item) pair; NaN where either is unknown."""
        return self.score_rows(self.user_rows(user_ids), self.item_rows(item_ids))

    def user_rows(self, user_ids: Ids) -> np.ndarray:
        """Each user's row in the factors, -1 where unknown."""
        self._fitted()
        return _rows(self._user_row, user_ids)

    def item_rows(self, item_ids: Ids) -> np.ndarray:
        """Each item's row in the factors, -1 where unknown."""
        self._fitted()
        return _rows(self._item_row, item_ids)

    def score_rows(self, user_rows: np.ndarray, item_rows: np.ndarray) -> np.ndarray:
        """Dot product per aligned pair of factor rows; NaN where either is -1. Callers
        scoring many pairs of few distinct ids look each id up once."""
        _, _, user_factors, item_factors, _ = self._fitted()
        u, i = np.asarray(user_rows), np.asarray(item_rows)
        if len(u) != len(i):
            raise ConfigError(f"score: got {len(u)} user ids but {len(i)} item ids")
        out = np.full(len(u), np.nan, dtype=np.float64)
        ok = (u >= 0) & (i >= 0)
        out[ok] = np.einsum("ij,ij->i", user_factors[u[ok]], item_factors[i[ok]])
        return out

    def similar_items(self, item_ids: Ids, k: int) -> pd.DataFrame:
        """Top-k other items by dot product: item_id, similar_id, score, rank (0-based)."""
        _check_k(k)
        _, items, _, item_factors, index = self._fitted()
        rows = items.get_indexer(pd.unique(_as_ids(item_ids)))
        rows = rows[rows >= 0]
        depth = min(k + 1, len(items))
        if len(rows) == 0 or depth < 2:
            return _empty(SIMILAR_COLUMNS)
        # Under inner product an item need not be its own top hit, so drop it wherever it is.
        scores, found = _search(index, item_factors[rows], depth, None)
        query = np.repeat(rows, depth)
        other = found.ravel()
        score = scores.ravel()
        keep = (other >= 0) & (other != query)
        query, other, score = query[keep], other[keep], score[keep]
        rank = ranks_within(query)
        top = rank < k
        ids = items.to_numpy(dtype=object)
        out = pd.DataFrame(
            {
                "item_id": ids[query[top]],
                "similar_id": ids[other[top]],
                "score": score[top].astype(np.float64),
                "rank": rank[top],
            }
        )
        out = out.astype({"item_id": "str", "similar_id": "str"})
        return out.sort_values(["item_id", "rank"], kind="stable", ignore_index=True)

    def save(self, directory: Path) -> None:
        """Write factors (.npy), ids and params (.json) and the faiss index to `directory`."""
        users, items, user_factors, item_factors, index = self._fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / USER_FACTORS, user_factors, allow_pickle=False)
        np.save(directory / ITEM_FACTORS, item_factors, allow_pickle=False)
        (directory / USER_IDS).write_text(json.dumps(users.tolist()))
        (directory / ITEM_IDS).write_text(json.dumps(items.tolist()))
        (directory / PARAMS).write_text(json.dumps(asdict(self.params), indent=2))
        faiss.write_index(index, str(directory / INDEX))

    @classmethod
    def load(cls, directory: Path) -> ALSModel:
        """Read a model written by save(); a missing, corrupt or inconsistent file is an error."""
        directory = Path(directory)
        params_raw = _read(directory / PARAMS, lambda p: json.loads(p.read_text()))
        try:
            params = ALSParams(**params_raw)
        except (TypeError, ConfigError) as exc:
            raise CircleRankError(f"{directory / PARAMS}: invalid ALS params: {exc}") from exc
        user_factors = _read(directory / USER_FACTORS, _load_matrix)
        item_factors = _read(directory / ITEM_FACTORS, _load_matrix)
        user_ids = _read(directory / USER_IDS, _load_ids)
        item_ids = _read(directory / ITEM_IDS, _load_ids)
        index = _read(directory / INDEX, lambda p: faiss.read_index(str(p)))
        if not isinstance(index, faiss.IndexFlatIP):
            raise CircleRankError(
                f"{directory / INDEX}: expected a faiss IndexFlatIP, got {type(index).__name__}"
            )

        def check(ok: bool, name: str, what: str) -> None:
            if not ok:
                raise CircleRankError(f"{directory / name}: {what}")

        f = params.factors
        check(
            user_factors.shape == (len(user_ids), f),
            USER_FACTORS,
            f"shape {user_factors.shape} does not match {len(user_ids)} user ids x {f} factors",
        )
        check(
            item_factors.shape == (len(item_ids), f),
            ITEM_FACTORS,
            f"shape {item_factors.shape} does not match {len(item_ids)} item ids x {f} factors",
        )
        check(len(set(user_ids)) == len(user_ids), USER_IDS, "user ids are not unique")
        check(len(set(item_ids)) == len(item_ids), ITEM_IDS, "item ids are not unique")
        check(
            index.d == f
            and index.ntotal == len(item_ids)
            and np.array_equal(index.reconstruct_n(0, index.ntotal), item_factors),
            INDEX,
            f"not an inner-product index over the {len(item_ids)} saved item vectors",
        )
        model = cls(params)
        model._set_state(
            pd.Index(user_ids, dtype=object),
            pd.Index(item_ids, dtype=object),
            user_factors,
            item_factors,
            index,
        )
        return model


def _search(
    index: faiss.IndexFlatIP,
    queries: np.ndarray,
    depth: int,
    params: faiss.SearchParameters | None,
) -> tuple[np.ndarray, np.ndarray]:
    if len(queries) <= ONE_THREAD_UP_TO:
        with _one_openmp_thread():
            return _search_all(index, queries, depth, params)
    return _search_all(index, queries, depth, params)


@contextmanager
def _one_openmp_thread() -> Iterator[None]:
    """faiss on one OpenMP thread within the block. OpenMP keeps the thread count per
    calling thread: other threads' searches are not affected."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _search_all(
    index: faiss.IndexFlatIP,
    queries: np.ndarray,
    depth: int,
    params: faiss.SearchParameters | None,
) -> tuple[np.ndarray, np.ndarray]:
    step = max(1, SEARCH_BUDGET // depth)
    if len(queries) <= step:
        scores, found = index.search(queries, depth, params=params)
        return scores, found
    parts = [
        index.search(queries[s : s + step], depth, params=params)
        for s in range(0, len(queries), step)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _member(values: np.ndarray, sorted_unique: np.ndarray) -> np.ndarray:
    at = np.searchsorted(sorted_unique, values)
    at[at == len(sorted_unique)] = 0
    return sorted_unique[at] == values


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    dtypes = {"score": "float64", "rank": "int64"}
    return pd.DataFrame({c: pd.Series([], dtype=dtypes.get(c, "str")) for c in columns})


def _read(path: Path, reader: Callable[[Path], T]) -> T:
    if not path.is_file():
        raise CircleRankError(f"{path}: file is missing; cannot load the ALS model")
    try:
        return reader(path)
    except (OSError, ValueError, EOFError, RuntimeError, UnicodeDecodeError) as exc:
        raise CircleRankError(f"{path}: cannot read ALS model file: {exc}") from exc


def _load_matrix(path: Path) -> np.ndarray:
    matrix = np.load(path, allow_pickle=False)
    if matrix.ndim != 2 or matrix.dtype != np.float32:
        raise ValueError(f"expected a 2-d float32 array, got {matrix.ndim}-d {matrix.dtype}")
    if not np.isfinite(matrix).all():
        raise ValueError("array holds non-finite values")
    return np.ascontiguousarray(matrix)


def _load_ids(path: Path) -> list[str]:
    ids = json.loads(path.read_text())
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError("expected a JSON list of strings")
    return ids
