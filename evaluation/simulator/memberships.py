"""Membership intervals: who was in which circle when, before and during the logs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .circles import Circles, locality
from .config import US_PER_DAY, SimConfig
from .credit import CreditHistory, eligible
from .population import Users
from .social import Ties

OPEN = np.iinfo(np.int64).max  # left_at of a membership that has not ended
PRELOG, CREATOR, ORGANIC, SUGGESTED = 0, 1, 2, 3


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Intervals:
    """Membership rows; a (user, circle) pair never has overlapping intervals."""

    user: np.ndarray
    circle: np.ndarray
    joined_us: np.ndarray
    left_us: np.ndarray
    origin: np.ndarray

    def __len__(self) -> int:
        return len(self.user)

    def append(self, other: Intervals) -> Intervals:
        return Intervals(*(np.concatenate([getattr(self, f), getattr(other, f)]) for f in _FIELDS))

    def take(self, mask: np.ndarray) -> Intervals:
        return Intervals(*(getattr(self, f)[mask] for f in _FIELDS))

    def member_matrix(self, t_us: int, n_users: int, n_circles: int) -> np.ndarray:
        """(users, circles) bool: member at time t."""
        on = (self.joined_us <= t_us) & (t_us < self.left_us)
        out = np.zeros((n_users, n_circles), dtype=bool)
        out[self.user[on], self.circle[on]] = True
        return out

    def active_at(self, user: np.ndarray, ts_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For query rows (user, ts): pairs (query index, circle) of memberships in force."""
        order = np.argsort(self.user, kind="stable")
        su = self.user[order]
        lo = np.searchsorted(su, user, side="left")
        hi = np.searchsorted(su, user, side="right")
        q, rows = expand_ranges(lo, hi)
        iv = order[rows]
        t = ts_us[q]
        on = (self.joined_us[iv] <= t) & (t < self.left_us[iv])
        return q[on], self.circle[iv[on]]


_FIELDS = ("user", "circle", "joined_us", "left_us", "origin")


def expand_ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [lo_i, hi_i): (i repeated, every index in the range), in order."""
    n = np.maximum(hi - lo, 0)
    q = np.repeat(np.arange(len(lo)), n)
    starts = np.cumsum(n) - n
    rows = np.arange(int(n.sum())) - np.repeat(starts, n) + np.repeat(lo, n)
    return q, rows


def join_logit_base(cfg: SimConfig, users: Users, circles: Circles) -> np.ndarray:
    """(people, circles) propensity to join before any social pull."""
    p = cfg.params
    n = users.n_people
    interest = users.interest[:n][:, circles.topic]
    return (
        p.join_base
        + p.join_interest * interest
        + p.join_quality * circles.quality[None, :]
        + p.join_official * circles.is_official[None, :]
        + 0.3 * np.log(users.activity[:n])[:, None]
        + locality(p, users.city[:n, None], circles.city[None, :])
    )


def prelog_memberships(
    cfg: SimConfig,
    rng: np.random.Generator,
    users: Users,
    circles: Circles,
    ties: Ties,
    credit: CreditHistory,
) -> Intervals:
    """Memberships formed before the logs: interest first, then a round of social pull;
    creators are members from the start; a join happens only when the user is eligible."""
    p = cfg.params
    n = users.n_people
    logit = join_logit_base(cfg, users, circles)
    existed = circles.created_us < cfg.start_us
    first = (rng.random(logit.shape) < _sigmoid(logit)) & existed[None, :]
    tied = ties.tied_counts(np.vstack([first, np.zeros((users.n - n, circles.n), bool)]))[:n]
    logit2 = logit + p.join_friend_round + p.join_friend_pull * np.log1p(tied)
    second = (rng.random(logit.shape) < _sigmoid(logit2)) & existed[None, :] & ~first
    chosen = first | second
    has_creator = circles.creator >= 0
    chosen[circles.creator[has_creator], np.flatnonzero(has_creator)] = False
    u, c = np.nonzero(chosen)

    earliest = np.maximum(users.registered_us[u], circles.created_us[c]) + US_PER_DAY // 24
    span = np.maximum(cfg.start_us - earliest, 1)
    joined = earliest + (rng.random(len(u)) * span).astype(np.int64)
    ok = eligible(credit.score_at(u, joined), circles.gate[c]) & (joined < cfg.start_us)
    u, c, joined = u[ok], c[ok], joined[ok]
    interest = users.interest[u, circles.topic[c]]
    leaves = rng.random(len(u)) < p.leave_share * (1.5 - interest)
    left = joined + (rng.exponential(p.leave_mean_days, size=len(u)) * US_PER_DAY).astype(np.int64)
    left = np.where(leaves & (left < cfg.split_us), left, OPEN)
    joined_rows = Intervals(u, c, joined, left, np.full(len(u), PRELOG))

    cc = np.flatnonzero(has_creator)
    creators = Intervals(
        circles.creator[cc],
        cc,
        circles.created_us[cc] + 1,
        np.full(len(cc), OPEN),
        np.full(len(cc), CREATOR),
    )
    return creators.append(joined_rows)


@dataclass
class OrganicSchedule:
    """Joins that happen during the logs without a suggestion (search, a friend's link).
    Drawn up front; the day loop applies the ones still possible when they come due."""

    user: np.ndarray
    circle: np.ndarray
    ts_us: np.ndarray


def organic_schedule(
    cfg: SimConfig,
    rng: np.random.Generator,
    users: Users,
    circles: Circles,
    ties: Ties,
    members: Intervals,
) -> OrganicSchedule:
    """Who joins what when, by the join propensity (and, with `organic_tie_pull`, the
    ties who were members at the start of the logs)."""
    p = cfg.params
    n = users.n_people
    counts = rng.poisson(p.organic_joins_per_day * users.activity[:n] * cfg.days)
    user = np.repeat(np.arange(n), counts)
    logit = join_logit_base(cfg, users, circles)
    if p.organic_tie_pull != 0.0:
        member = members.member_matrix(cfg.start_us, users.n, circles.n)
        logit += p.organic_tie_pull * np.log1p(ties.tied_counts(member)[:n])
    weight = np.exp(logit)[user]
    cum = np.cumsum(weight, axis=1)
    pick = (rng.random(len(user))[:, None] * cum[:, -1:] > cum).sum(axis=1)
    circle = np.minimum(pick, circles.n - 1)
    ts = cfg.start_us + (rng.random(len(user)) * (cfg.days - 0.05) * US_PER_DAY).astype(np.int64)
    order = np.lexsort((user, ts))
    return OrganicSchedule(user[order], circle[order], ts[order])
