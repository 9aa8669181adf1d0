"""Follows: people follow prolific creators they meet in their circles (whose posts they
see), so a follow says something about what a user will engage with."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .circles import Circles
from .config import SimConfig
from .memberships import Intervals
from .population import Users
from .social import Ties


def add_follows(
    cfg: SimConfig,
    rng: np.random.Generator,
    users: Users,
    circles: Circles,
    members: Intervals,
    ties: Ties,
) -> Ties:
    """The ties with follows added: per membership formed before the logs, a Poisson share
    of the user's follows goes to creators of that circle, weighted by how much they post."""
    t = cfg.start_us
    before = members.joined_us < t
    mu, mc, mj = members.user[before], members.circle[before], members.joined_us[before]
    creates = users.creator_rate[mu] > 0
    order = np.lexsort((mu[creates], mc[creates]))
    cu, cc, cj = mu[creates][order], mc[creates][order], mj[creates][order]
    weight = users.creator_rate[cu] * (0.3 + users.interest[cu, circles.topic[cc]])
    cum = np.cumsum(weight)

    per_user = np.bincount(mu, minlength=users.n).astype(np.float64)
    k = rng.poisson(cfg.params.follows_mean / np.maximum(per_user[mu], 1.0))
    pick = np.repeat(np.arange(len(mu)), k)
    fu, fc, fj = mu[pick], mc[pick], mj[pick]
    lo = np.searchsorted(cc, fc, side="left")
    hi = np.searchsorted(cc, fc, side="right")
    has = hi > lo
    fu, fj, lo, hi = fu[has], fj[has], lo[has], hi[has]
    base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    draw = base + rng.random(len(fu)) * (cum[hi - 1] - base)
    idx = np.clip(np.searchsorted(cum, draw, side="right"), lo, hi - 1)
    followee = cu[idx]
    since = np.maximum(fj, cj[idx])
    keep = followee != fu
    fu, followee, since = fu[keep], followee[keep], since[keep]
    key = fu.astype(np.int64) * users.n + followee
    _, first = np.unique(key, return_index=True)
    fu, followee, since = fu[first], followee[first], since[first]
    created = since + (rng.random(len(fu)) * np.maximum(t - since, 1)).astype(np.int64)
    created = np.minimum(created, t - 1)
    return replace(ties, follower=fu, followee=followee, follow_created_us=created)
