"""Credit score histories and the score in force at any time (the eligibility gate)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import US_PER_DAY, US_PER_SECOND, SimConfig
from .population import Users

NO_SCORE = -1


@dataclass
class CreditHistory:
    """Rows sorted by (user, ts); ts are whole seconds so lookups can use a packed key."""

    user: np.ndarray
    ts_us: np.ndarray
    score: np.ndarray
    origin_s: int

    def _keys(self, user: np.ndarray, ts_us: np.ndarray) -> np.ndarray:
        span = np.int64(self._span_s)
        secs = np.floor_divide(ts_us, US_PER_SECOND) - self.origin_s
        return user.astype(np.int64) * span + np.clip(secs, -1, span - 1)

    def __post_init__(self) -> None:
        self._span_s = int(np.max(self.ts_us, initial=0) // US_PER_SECOND - self.origin_s) + 10**8
        self._sorted_keys = self._keys(self.user, self.ts_us)

    def score_at(self, user: np.ndarray, ts_us: np.ndarray | int) -> np.ndarray:
        """Score in force at ts (latest row with row ts <= ts), NO_SCORE when none yet."""
        user = np.asarray(user, dtype=np.int64)
        ts = np.broadcast_to(np.asarray(ts_us, dtype=np.int64), user.shape)
        idx = np.searchsorted(self._sorted_keys, self._keys(user, ts), side="right") - 1
        safe = np.clip(idx, 0, None)
        ok = (idx >= 0) & (self.user[safe] == user) & (self.ts_us[safe] <= ts)
        return np.where(ok, self.score[safe], NO_SCORE)


def eligible(score: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """Open circles (gate < 0) take anyone; gated ones need a known score >= the gate."""
    return (gate < 0) | ((score != NO_SCORE) & (score >= gate))


def make_credit(cfg: SimConfig, rng: np.random.Generator, users: Users) -> CreditHistory:
    """A first score at registration, then occasional updates around the latent score."""
    p = cfg.params
    people = np.arange(users.n_people)
    reg = users.registered_us[people]
    first = reg + (rng.random(len(people)) * US_PER_DAY).astype(np.int64)
    first = np.minimum(first, cfg.start_us - US_PER_SECOND)
    span = (cfg.split_us - first).astype(np.float64)
    n_updates = rng.poisson(span / (p.credit_update_days * US_PER_DAY))
    upd_user = np.repeat(people, n_updates)
    upd_ts = first[upd_user] + (rng.random(len(upd_user)) * span[upd_user]).astype(np.int64)
    user = np.concatenate([people, upd_user])
    ts = np.concatenate([first, upd_ts])
    ts = (ts // US_PER_SECOND) * US_PER_SECOND
    ts = np.minimum(ts, cfg.split_us - US_PER_SECOND)
    noise = rng.normal(0.0, p.credit_noise_sd, size=len(user))
    score = np.clip(np.round(users.credit_latent[user] + noise), 350, 950).astype(np.int64)
    order = np.lexsort((ts, user))
    user, ts, score = user[order], ts[order], score[order]
    keep = np.ones(len(user), dtype=bool)
    keep[1:] = (user[1:] != user[:-1]) | (ts[1:] != ts[:-1])
    origin_s = int(ts.min() // US_PER_SECOND) - 1
    return CreditHistory(user[keep], ts[keep], score[keep], origin_s)
