"""Item-to-item collaborative filtering over co-membership: a user scores item j by the
sum of weight(i, j) over the items i the user belongs to. Subclasses say how the
item x item weights are learned (training/knn.py, training/ease.py); fitting, scoring,
top-k recommendation and persistence are shared.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import astuple, fields
from pathlib import Path
from typing import Any, ClassVar, Generic, Self, TypeAlias, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from circlerank.errors import CircleRankError, ModelError

from .als import Ids, TopItems, _as_ids, _known, _positions, _require, _row_of, _rows

BATCH = 512  # users scored at once (a dense users x items block)

P = TypeVar("P")
Weights: TypeAlias = sp.csr_matrix | np.ndarray


class ItemToItem(Generic[P]):
    """Fitted on (user_id, item_id) pairs; repeated pairs count once."""

    Params: ClassVar[type[Any]]  # a frozen dataclass of the model's settings
    kind: ClassVar[str]  # the model's name in messages

    def __init__(self, params: P | None = None) -> None:
        self.params: P = params if params is not None else self.Params()
        self._set_ids(pd.Index([], dtype=object), pd.Index([], dtype=object))
        self._members = sp.csr_matrix((0, 0))
        self._similar: Weights = sp.csr_matrix((0, 0))
        self._last: tuple[int, np.ndarray] | None = None  # see _scores

    def _set_ids(self, users: pd.Index, items: pd.Index) -> None:
        self._users, self._items = users, items
        # id -> row as dicts, ids as object arrays: a request looks up one user and a
        # few hundred items, where Index.get_indexer costs about ten times a dict's lookups
        self._user_row, self._item_row = _row_of(users), _row_of(items)
        self._user_ids = users.to_numpy(dtype=object)
        self._item_ids = items.to_numpy(dtype=object)

    def _vocabulary(self, members: sp.csr_matrix) -> np.ndarray:
        """The item columns the model learns weights for (the others stay unknown)."""
        return np.arange(members.shape[1])

    def _weights(self, members: sp.csr_matrix) -> Weights:
        """The items x items weight matrix learned from a 0/1 users x items matrix."""
        raise NotImplementedError

    def fit(self, interactions: pd.DataFrame) -> Self:
        _require(interactions, ["user_id", "item_id"], "interactions")
        if len(interactions) == 0:
            raise CircleRankError(f"cannot fit {self.kind}: got 0 interactions")
        user_rows, users = pd.factorize(_as_ids(interactions["user_id"]), sort=True)
        item_rows, items = pd.factorize(_as_ids(interactions["item_id"]), sort=True)
        members = sp.csr_matrix(
            (np.ones(len(user_rows)), (user_rows, item_rows)), shape=(len(users), len(items))
        )
        members.data[:] = 1.0
        kept = self._vocabulary(members)
        members = members[:, kept].tocsr()
        self._similar = self._weights(members)
        self._last = None
        items = np.asarray(items, dtype=object)[kept]
        self._set_ids(pd.Index(users, dtype=object), pd.Index(items, dtype=object))
        self._members = members
        return self

    def _user_scores(self, rows: np.ndarray) -> np.ndarray:
        """Dense scores over every item for the given user rows: per user, the weighted
        sum of its own items' rows, added in turn (a users x items product's sums, in its
        order). A sparse product passes over every item twice, a sparse-times-dense one
        copies EASE's matrix to float64 (50-500 ms a request), and BLAS's threads cost a
        busy machine milliseconds for EASE's sub-millisecond sum."""
        members = self._members[rows]
        similar = self._similar
        out = np.zeros((len(rows), similar.shape[1]))
        for r in range(len(rows)):
            own = slice(members.indptr[r], members.indptr[r + 1])
            weights = np.asarray(members.data[own], dtype=np.float64)
            if sp.issparse(similar):
                out[r] = weights @ similar[members.indices[own]]
                continue
            total = out[r]  # a view: added into in place, one own item's row at a time
            for item, weight in zip(members.indices[own].tolist(), weights, strict=True):
                total += weight * similar[item]
        return out

    def _scores(self, rows: np.ndarray) -> np.ndarray:
        """`_user_scores`; one user's are kept (read-only) for the next call: a request's
        candidate source and its scorer's signals both ask for its one user's."""
        if len(rows) != 1:
            return self._user_scores(rows)
        last = self._last  # one read: safe across threads
        if last is not None and last[0] == rows[0]:
            return last[1]
        scores = self._user_scores(rows)
        scores.flags.writeable = False
        self._last = (int(rows[0]), scores)
        return scores

    def score(self, user_ids: Ids, item_ids: Ids) -> np.ndarray:
        """Score per aligned (user, item) pair; NaN where either is unknown."""
        u, i = _rows(self._user_row, user_ids), _rows(self._item_row, item_ids)
        if len(u) != len(i):
            raise ModelError(f"score: got {len(u)} user ids but {len(i)} item ids")
        out = np.full(len(u), np.nan)
        ok = (u >= 0) & (i >= 0)
        known, at = np.unique(u[ok], return_inverse=True)
        pairs_ok = np.flatnonzero(ok)
        for start in range(0, len(known), BATCH):
            block = self._scores(known[start : start + BATCH])
            mine = (at >= start) & (at < start + BATCH)
            out[pairs_ok[mine]] = block[at[mine] - start, i[ok][mine]]
        return out

    def recommend(
        self,
        user_ids: Ids,
        k: int,
        exclude: pd.DataFrame | None = None,
        allowed: Collection[str] | None = None,
    ) -> pd.DataFrame:
        """Top-k items per known user with a positive score: user_id, item_id, score,
        rank (0-based). Pairs in `exclude` are skipped; `allowed` limits the items."""
        return self.top_items(user_ids, k, exclude, allowed).frame()

    def top_items(
        self,
        user_ids: Ids,
        k: int,
        exclude: pd.DataFrame | None = None,
        allowed: Collection[str] | None = None,
    ) -> TopItems:
        """The rows of `recommend` as arrays (a request's candidate source needs no frame)."""
        if k <= 0:
            raise ModelError(f"k must be > 0, got {k}")
        rows = _known(_rows(self._user_row, pd.unique(_as_ids(user_ids))))
        if len(rows) == 0 or len(self._items) == 0:
            return TopItems.none()
        banned = None
        if allowed is not None:
            banned = np.ones(len(self._items), dtype=bool)
            banned[_known(_rows(self._item_row, pd.unique(_as_ids(allowed))))] = False
        excluded_at, excluded_item = self._excluded(exclude, rows)
        parts = []
        depth = min(k, len(self._items))
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            block = self._scores(chunk)
            if not block.flags.writeable:  # one user's kept scores
                block = block.copy()
            if banned is not None:
                block[:, banned] = -np.inf
            mine = (excluded_at >= start) & (excluded_at < start + len(chunk))
            block[excluded_at[mine] - start, excluded_item[mine]] = -np.inf
            top = np.argpartition(-block, depth - 1, axis=1)[:, :depth]
            score = np.take_along_axis(block, top, axis=1)
            order = np.argsort(-score, axis=1, kind="stable")
            top, score = np.take_along_axis(top, order, 1), np.take_along_axis(score, order, 1)
            user = np.repeat(chunk, depth)
            keep = score.ravel() > 0
            rank = np.tile(np.arange(depth), len(chunk))
            parts.append((user[keep], top.ravel()[keep], score.ravel()[keep], rank[keep]))
        user, item, score, rank = (np.concatenate(col) for col in zip(*parts, strict=True))
        return TopItems.of(self._user_ids[user], self._item_ids[item], score, rank)

    def _excluded(
        self, exclude: pd.DataFrame | None, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The pairs of `exclude` whose user is one of `rows` (distinct): the user's
        position in `rows` and the item's column (not a users x items matrix: a request
        asks for one user)."""
        none = np.empty(0, dtype=np.intp)
        if exclude is None or not len(exclude):
            return none, none
        _require(exclude, ["user_id", "item_id"], "exclude")
        user = _rows(self._user_row, _as_ids(exclude["user_id"]))
        item = _rows(self._item_row, _as_ids(exclude["item_id"]))
        ok = (item >= 0) & np.isin(user, rows)
        return _positions(rows, user[ok]), item[ok]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        sp.save_npz(directory / "members.npz", self._members)
        if sp.issparse(self._similar):
            sp.save_npz(directory / "similar.npz", self._similar)
        else:
            np.save(directory / "similar.npy", self._similar)
        ids = {"users": self._users.to_numpy(dtype=str), "items": self._items.to_numpy(dtype=str)}
        np.savez(directory / "ids.npz", **ids)
        values = " ".join(str(v) for v in astuple(self.params))  # type: ignore[call-overload]
        (directory / "params.txt").write_text(values + "\n")

    @classmethod
    def load(cls, directory: Path) -> Self:
        try:
            values = (directory / "params.txt").read_text().split()
            kinds: list[Any] = [type(f.default) for f in fields(cls.Params)]
            model = cls(cls.Params(*(kind(v) for kind, v in zip(kinds, values, strict=True))))
            model._members = sp.load_npz(directory / "members.npz").tocsr()
            dense = directory / "similar.npy"
            model._similar = (
                np.load(dense) if dense.exists() else sp.load_npz(directory / "similar.npz").tocsr()
            )
            with np.load(directory / "ids.npz") as ids:
                users = pd.Index(ids["users"].astype(object), dtype=object)
                model._set_ids(users, pd.Index(ids["items"].astype(object), dtype=object))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{directory}: cannot load {cls.kind} ({exc})") from exc
        return model
