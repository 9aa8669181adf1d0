"""Does interleaving pick the truly better ranking, and with how many users?

On the simulator's truth (each truth user's feed candidates with their true click
probability given a look), a family of rankings scores candidates by the truth plus
noise of different sizes. For random pairs with a clear true difference (at least
`min_gap` relative), sessions are interleaved by team draft and clicked by the
simulator's position bias times the truth. The preference must agree in sign with the
true difference. The users an A/B test would need to detect the same difference (80%
power, 5% two-sided) are compared with the sessions interleaving needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .interleave import A, credit, team_draft
from .ope_check import Requests, requests_from_truth, true_value
from .simulator.behaviour import examination
from .simulator.policy import heuristic_rank

SLATE = 10
DECAY = 0.8  # the simulator's default examination decay


@dataclass(frozen=True)
class Agreement:
    pairs: int  # pairs with a clear true difference
    agreement: float  # share of them where interleaving picked the truly better one
    users_ratio: float  # median over pairs: A/B users needed / interleaved sessions needed


def agreement(
    feed_truth: pd.DataFrame,
    pairs: int = 40,
    sessions_per_user: int = 20,
    min_gap: float = 0.05,
    seed: int = 0,
) -> Agreement:
    truth = feed_truth.sort_values(["user_id", "post_id"], kind="stable").reset_index(drop=True)
    req = requests_from_truth(truth)
    rng = np.random.default_rng(seed)
    log_p = np.log(req.p_click)
    noises = rng.uniform(0.2, 3.0, 12)
    ranks = [heuristic_rank(req.group, log_p + rng.normal(0, s, len(log_p))) for s in noises]
    values = [true_value(req, r, SLATE, DECAY) for r in ranks]
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    agree: list[bool] = []
    ratios: list[float] = []
    while len(agree) < pairs:
        i, j = rng.choice(len(ranks), 2, replace=False)
        gap = values[i] - values[j]
        if abs(gap) < min_gap * max(values[i], values[j]):
            continue
        lists = [_lists(req, ranks[i]), _lists(req, ranks[j])]
        teams, clicks = [], []
        outcome = []
        for _ in range(sessions_per_user):
            for u in range(len(req.start)):
                page, team = team_draft(lists[0][u], lists[1][u], SLATE, rng)
                look = examination(np.arange(len(page)), DECAY)
                click = rng.random(len(page)) < look * req.p_click[np.asarray(page, dtype=np.intp)]
                teams.append(team)
                clicks.append(click)
                t = np.asarray(team)
                outcome.append(np.sign((click & (t == A)).sum() - (click & (t != A)).sum()))
        preference = credit(teams, clicks).preference
        agree.append(bool(np.sign(preference) == np.sign(gap)))
        # sessions for interleaving vs users for A/B, at the same power
        o = np.asarray(outcome, dtype=np.float64)
        n_interleave = z**2 * o.var() / max(o.mean() ** 2, 1e-12)
        variance = _clicks_variance(req, ranks[i]) + _clicks_variance(req, ranks[j])
        n_ab = 2 * z**2 * variance / gap**2  # both arms
        ratios.append(float(n_ab / n_interleave))
    return Agreement(len(agree), float(np.mean(agree)), float(np.median(ratios)))


def _lists(req: Requests, rank: np.ndarray) -> list[list[int]]:
    """Each request's candidate rows in ranked order."""
    out = []
    for start, size in zip(req.start, req.size, strict=True):
        rows = np.arange(start, start + size)
        out.append(rows[np.argsort(rank[rows])].tolist())
    return out


def _clicks_variance(req: Requests, rank: np.ndarray) -> float:
    """Variance across users of one session's clicks under a ranking (the A/B unit)."""
    shown = rank < SLATE
    q = examination(rank[shown], DECAY) * req.p_click[shown]
    per_user_mean = np.bincount(req.group[shown], weights=q, minlength=len(req.start))
    per_user_var = np.bincount(req.group[shown], weights=q * (1 - q), minlength=len(req.start))
    return float(per_user_var.mean() + per_user_mean.var())
