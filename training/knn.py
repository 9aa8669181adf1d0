"""Item-based collaborative filtering over co-membership: a circle scores for a user by
how much its members overlap the members of the user's circles.

similarity(i, j) = |members(i) & members(j)| / (|i|^a * |j|^(1-a) + shrink), with the
diagonal zeroed; score(u, j) = the sum of similarity(i, j) over the user's circles i.
On Last.fm (seed 0's validation split) it ranks nearly as well as tuned ALS (NDCG@10
0.167 against 0.171) and errs differently, which is what a ranker combining the two
needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .item_to_item import ItemToItem


@dataclass(frozen=True)
class KNNParams:
    alpha: float = 0.5  # asymmetric cosine: 0.5 is the cosine
    shrink: float = 10.0


class ItemKNN(ItemToItem[KNNParams]):
    """Co-membership item-kNN fitted on (user_id, item_id) pairs."""

    Params = KNNParams
    kind = "item-kNN"

    def _weights(self, members: sp.csr_matrix) -> sp.csr_matrix:
        size = np.asarray(members.sum(axis=0)).ravel()
        both = (members.T @ members).tocoo()
        off = both.row != both.col
        row, col, overlap = both.row[off], both.col[off], both.data[off]
        a, shrink = self.params.alpha, self.params.shrink
        value = overlap / (size[row] ** a * size[col] ** (1 - a) + shrink)
        return sp.csr_matrix((value, (row, col)), shape=members.shape[1:] * 2)
