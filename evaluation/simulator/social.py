"""The latent social graph: ties with strength (homophilous), friend edges and follows.

Only a share of ties are friend edges in the app; the rest (family, colleagues) show up
only as money transfers, so transfers carry signal the friend list does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .config import SimConfig
from .population import Users


@dataclass
class Ties:
    """Undirected ties (a < b) and directed follows, with a fast strength lookup."""

    a: np.ndarray
    b: np.ndarray
    strength: np.ndarray
    is_friend_edge: np.ndarray
    created_us: np.ndarray
    follower: np.ndarray
    followee: np.ndarray
    follow_created_us: np.ndarray
    follow_strength: float
    n_users: int

    def __post_init__(self) -> None:
        n = np.int64(self.n_users)
        keys = np.concatenate(
            [self.a * n + self.b, self.b * n + self.a, self.follower * n + self.followee]
        )
        vals = np.concatenate(
            [self.strength, self.strength, np.full(len(self.follower), self.follow_strength)]
        )
        order = np.lexsort((-vals, keys))  # strongest first within a key
        keys, vals = keys[order], vals[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        self._keys, self._vals = keys[first], vals[first]
        rows = np.concatenate([self.a, self.b])
        cols = np.concatenate([self.b, self.a])
        self.adjacency = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(self.n_users, self.n_users)
        )

    def strength_of(self, user: np.ndarray, other: np.ndarray) -> np.ndarray:
        """How close `user` is to `other`: tie strength, a follow's weight, or 0."""
        q = user.astype(np.int64) * np.int64(self.n_users) + other.astype(np.int64)
        idx = np.clip(np.searchsorted(self._keys, q), 0, max(len(self._keys) - 1, 0))
        if len(self._keys) == 0:
            return np.zeros(len(q))
        return np.where(self._keys[idx] == q, self._vals[idx], 0.0)

    def tied_counts(self, member: np.ndarray) -> np.ndarray:
        """(users, circles) number of a user's ties who are members."""
        return np.asarray(self.adjacency @ member.astype(np.float64))


def make_ties(cfg: SimConfig, rng: np.random.Generator, users: Users) -> Ties:
    """Each person proposes a few ties among candidates, preferring the same city,
    shared interests and a similar age (homophily)."""
    p = cfg.params
    n = users.n_people
    k_cand = min(p.tie_candidates, n - 1)
    city = users.city[:n]
    order = np.argsort(city, kind="stable")
    city_sorted = city[order]
    c_start = np.searchsorted(city_sorted, np.arange(city.max() + 1))
    c_count = np.searchsorted(city_sorted, np.arange(city.max() + 1), side="right") - c_start

    same = rng.random((n, k_cand)) < p.tie_same_city
    local = order[
        c_start[city][:, None] + (rng.random((n, k_cand)) * c_count[city][:, None]).astype(np.int64)
    ]
    anywhere = rng.integers(0, n, size=(n, k_cand))
    cand = np.where(same, local, anywhere)

    interest = users.interest[:n]
    sim = np.einsum("it,ijt->ij", interest, interest[cand])
    age_gap = np.abs(users.birth_year[:n][:, None] - users.birth_year[:n][cand]) / 8.0
    score = p.tie_similarity_weight * sim - age_gap + rng.gumbel(size=(n, k_cand))
    score[cand == np.arange(n)[:, None]] = -np.inf
    want = np.minimum(rng.poisson(p.tie_degree_mean / 2.0, size=n), k_cand)
    rank = np.argsort(np.argsort(-score, axis=1), axis=1)
    pick = (rank < want[:, None]) & np.isfinite(score)
    src = np.repeat(np.arange(n), pick.sum(axis=1))
    dst = cand[pick]
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    pairs = np.unique(lo.astype(np.int64) * n + hi)
    a, b = pairs // n, pairs % n
    pair_sim = np.einsum("it,it->i", interest[a], interest[b])
    strength = np.clip(rng.beta(1.0, 2.5, size=len(a)) + 0.25 * pair_sim, 0.02, 1.0)
    is_friend = rng.random(len(a)) < p.friend_edge_share
    both = np.maximum(users.registered_us[a], users.registered_us[b])
    created = both + (rng.random(len(a)) * (cfg.start_us - both)).astype(np.int64)

    none = np.zeros(0, dtype=np.int64)
    return Ties(
        a=a,
        b=b,
        strength=strength,
        is_friend_edge=is_friend,
        created_us=created,
        follower=none,
        followee=none,
        follow_created_us=none,
        follow_strength=p.follow_tie,
        n_users=users.n,
    )
