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

from .als import RECOMMEND_COLUMNS, Ids, _as_ids, _empty, _require

BATCH = 512  # users scored at once (a dense users x items block)

P = TypeVar("P")
Weights: TypeAlias = sp.csr_matrix | np.ndarray


class ItemToItem(Generic[P]):
    """Fitted on (user_id, item_id) pairs; repeated pairs count once."""

    Params: ClassVar[type[Any]]  # a frozen dataclass of the model's settings
    kind: ClassVar[str]  # the model's name in messages

    def __init__(self, params: P | None = None) -> None:
        self.params: P = params if params is not None else self.Params()
        self._users = pd.Index([], dtype=object)
        self._items = pd.Index([], dtype=object)
        self._members = sp.csr_matrix((0, 0))
        self._similar: Weights = sp.csr_matrix((0, 0))

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
        self._users = pd.Index(users, dtype=object)
        self._items = pd.Index(np.asarray(items, dtype=object)[kept], dtype=object)
        self._members = members
        return self

    def _user_scores(self, rows: np.ndarray) -> np.ndarray:
        """Dense scores over every item for the given user rows."""
        members = self._members[rows]
        if sp.issparse(self._similar):
            return np.asarray((members @ self._similar).toarray())
        # dense weights (EASE): the weighted sum of the rows of each user's own items; a
        # sparse-times-dense product would first copy the whole matrix to float64 (a
        # 12k-item model: 50-500 ms a request, against well under 1 ms this way)
        out = np.empty((len(rows), self._similar.shape[1]))
        for r in range(len(rows)):
            own = slice(members.indptr[r], members.indptr[r + 1])
            weights = np.asarray(members.data[own], dtype=np.float64)
            out[r] = weights @ self._similar[members.indices[own]]
        return out

    def score(self, user_ids: Ids, item_ids: Ids) -> np.ndarray:
        """Score per aligned (user, item) pair; NaN where either is unknown."""
        u = self._users.get_indexer(_as_ids(user_ids))
        i = self._items.get_indexer(_as_ids(item_ids))
        if len(u) != len(i):
            raise ModelError(f"score: got {len(u)} user ids but {len(i)} item ids")
        out = np.full(len(u), np.nan)
        ok = (u >= 0) & (i >= 0)
        known, at = np.unique(u[ok], return_inverse=True)
        pairs_ok = np.flatnonzero(ok)
        for start in range(0, len(known), BATCH):
            block = self._user_scores(known[start : start + BATCH])
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
        if k <= 0:
            raise ModelError(f"k must be > 0, got {k}")
        asked = pd.unique(_as_ids(user_ids))
        rows = self._users.get_indexer(asked)
        rows = rows[rows >= 0]
        if len(rows) == 0 or len(self._items) == 0:
            return _empty(RECOMMEND_COLUMNS)
        banned = np.zeros(len(self._items), dtype=bool)
        if allowed is not None:
            banned[:] = True
            at = self._items.get_indexer(pd.unique(_as_ids(allowed)))
            banned[at[at >= 0]] = False
        excluded = None
        if exclude is not None and len(exclude):
            _require(exclude, ["user_id", "item_id"], "exclude")
            eu = self._users.get_indexer(_as_ids(exclude["user_id"]))
            ei = self._items.get_indexer(_as_ids(exclude["item_id"]))
            ok = (eu >= 0) & (ei >= 0)
            excluded = sp.csr_matrix(
                (np.ones(int(ok.sum()), dtype=bool), (eu[ok], ei[ok])),
                shape=(len(self._users), len(self._items)),
            )
        parts = []
        depth = min(k, len(self._items))
        for start in range(0, len(rows), BATCH):
            chunk = rows[start : start + BATCH]
            block = self._user_scores(chunk)
            block[:, banned] = -np.inf
            if excluded is not None:
                block[excluded[chunk].toarray()] = -np.inf
            top = np.argpartition(-block, depth - 1, axis=1)[:, :depth]
            score = np.take_along_axis(block, top, axis=1)
            order = np.argsort(-score, axis=1, kind="stable")
            top, score = np.take_along_axis(top, order, 1), np.take_along_axis(score, order, 1)
            user = np.repeat(chunk, depth)
            keep = score.ravel() > 0
            parts.append(
                pd.DataFrame(
                    {
                        "user_id": self._users.to_numpy(dtype=object)[user[keep]],
                        "item_id": self._items.to_numpy(dtype=object)[top.ravel()[keep]],
                        "score": score.ravel()[keep],
                        "rank": np.tile(np.arange(depth), len(chunk))[keep],
                    }
                )
            )
        out = pd.concat(parts, ignore_index=True).astype({"user_id": "str", "item_id": "str"})
        return out.sort_values(["user_id", "rank"], kind="stable", ignore_index=True)

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
                model._users = pd.Index(ids["users"].astype(object), dtype=object)
                model._items = pd.Index(ids["items"].astype(object), dtype=object)
        except (OSError, ValueError) as exc:
            raise ModelError(f"{directory}: cannot load {cls.kind} ({exc})") from exc
        return model
