"""Linear item-to-item autoencoders over the 0/1 membership matrix X (users x items),
with G = X'X and P = (G + L)^-1 for a diagonal penalty L, in closed form:

- EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019),
  `dropout` = 0: min |X - XB|^2 + l2 |B|^2 with diag(B) = 0; L = l2 I and
  B = -P / diag(P) column-wise, diag(B) = 0.
- DLAE (Steck, "Autoencoders that don't overfit towards the Identity", NeurIPS 2020),
  `dropout` = p > 0: B reconstructs X from X with each entry dropped with probability
  p (and the rest scaled by 1/(1-p)), in expectation; L = l2 I + p/(1-p) diag(G) and
  B = I - P L. The dropout penalizes each item's weights by its own popularity instead
  of forbidding the identity outright. Its diagonal is zeroed too: it never scores a
  circle the user is not in, and a user's own circles are not candidates.

Unlike item-kNN's overlap counts, each weight is learned with every other item in view,
so an item explained by a popular one gets little credit of its own. On Last.fm (seed
0's validation split, alone, full ranking) EASE at l2 100 reaches NDCG@10 0.183 and DLAE
at l2 100, p 0.25 0.190, against tuned ALS's 0.171. The inverse is dense in the number
of items: only items with at least `min_members` members are learned (the rest are
unknown to the model, as a cold item is to ALS), at most `max_items` of them, the most
popular first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy import linalg

from circlerank.errors import ModelError

from .item_to_item import ItemToItem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EASEParams:
    l2: float = 100.0
    dropout: float = 0.25  # 0: EASE; in (0, 1): DLAE
    min_members: int = 2
    max_items: int = 12_000  # a float64 inverse of 12,000 items needs about 1.2 GB

    def __post_init__(self) -> None:
        if not 0 <= self.dropout < 1 or self.l2 <= 0:
            raise ModelError(f"EASE needs l2 > 0 and 0 <= dropout < 1, got {self}")


class EASE(ItemToItem[EASEParams]):
    """EASE (or DLAE, with dropout) fitted on (user_id, item_id) pairs."""

    Params = EASEParams
    kind = "EASE"

    def _vocabulary(self, members: sp.csr_matrix) -> np.ndarray:
        size = np.asarray(members.sum(axis=0)).ravel()
        kept = np.flatnonzero(size >= self.params.min_members)
        if len(kept) > self.params.max_items:
            log.warning(
                "EASE: %d items have %d+ members; learning the %d most popular",
                len(kept),
                self.params.min_members,
                self.params.max_items,
            )
            kept = np.sort(kept[np.argsort(-size[kept], kind="stable")[: self.params.max_items]])
        return kept

    def _weights(self, members: sp.csr_matrix) -> np.ndarray:
        gram = (members.T @ members).toarray()
        p = self.params.dropout
        penalty = self.params.l2 + p / (1 - p) * np.diag(gram)
        gram[np.diag_indices_from(gram)] += penalty
        inverse = _spd_inverse(gram)
        # EASE: -P / diag(P); DLAE: I - P L (columns scaled; both diagonals zeroed below)
        weights = inverse / -np.diag(inverse) if p == 0 else -inverse * penalty
        np.fill_diagonal(weights, 0.0)
        return weights.astype(np.float32)


def _spd_inverse(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix (overwritten), through its
    Cholesky factor: about half the time of a general inverse."""
    factor = linalg.cholesky(matrix, lower=True, overwrite_a=True, check_finite=False)
    lower, info = linalg.lapack.dpotri(factor, lower=1, overwrite_c=1)
    if info != 0:
        raise ModelError(f"EASE: cannot invert the item Gram matrix (LAPACK info {info})")
    return np.tril(lower) + np.tril(lower, -1).T
