"""Team-draft interleaving: compare two rankings on the same request.

The teams take turns (a coin decides who goes first whenever both have picked as many
items) and each adds its best item not yet on the page. A click credits the team that
placed the item; a request's winner is the team with more credited clicks. Over many
requests, the share of wins of A minus that of B estimates which ranking users prefer,
usually from far fewer users than an A/B test needs, since both rankings meet the same
user, request and moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from circlerank.errors import ConfigError
from ranking.interleave import A, B, team_draft

__all__ = ["A", "B", "Preference", "credit", "credit_from_log", "team_draft"]


@dataclass(frozen=True)
class Preference:
    """Across requests: wins of A and B, ties, and the preference for A in [-1, 1]."""

    wins_a: int
    wins_b: int
    ties: int
    preference: float  # (wins_a - wins_b) / requests
    p_value: float  # sign test on the non-tied requests


def credit(
    teams: Sequence[Sequence[int]], clicks: Sequence[Sequence[bool] | np.ndarray]
) -> Preference:
    """Per request, the team with more clicked items wins."""
    wins = [0, 0]
    ties = 0
    for team, click in zip(teams, clicks, strict=True):
        t = np.asarray(team)
        c = np.asarray(click, dtype=bool)
        a, b = int((c & (t == A)).sum()), int((c & (t == B)).sum())
        if a > b:
            wins[A] += 1
        elif b > a:
            wins[B] += 1
        else:
            ties += 1
    decided = wins[A] + wins[B]
    p = float(stats.binomtest(wins[A], decided).pvalue) if decided else 1.0
    n = decided + ties
    return Preference(wins[A], wins[B], ties, (wins[A] - wins[B]) / n if n else 0.0, p)


def credit_from_log(
    log: pd.DataFrame, arm: str, pair: tuple[str, str] | None = None, positive: str = "click"
) -> dict[str, Any]:
    """Credit of an interleaving arm from the event log (serving/eventlog): the served
    rows say which strategy placed each item of each request; the posted `positive`
    events of the same (request, item) credit that strategy. `pair` names A and B (the
    arm's `interleave`; default: the two served strategies in sorted order)."""
    served = log[(log["origin"] == "served") & (log["arm"] == arm)]
    if served.empty:
        raise ConfigError(f"no served impressions of arm {arm!r} in the log")
    seen = sorted(pd.unique(served["strategy"]))
    if len(seen) != 2 or (pair is not None and sorted(pair) != seen):
        raise ConfigError(f"arm {arm!r} served the strategies {seen}, not the pair {pair}")
    pair = pair or (seen[0], seen[1])
    clicks = log[(log["origin"] == "posted") & (log["action"] == positive)]
    clicked = set(zip(clicks["request_id"], clicks["item_id"], strict=True))
    teams, hits = [], []
    for request, rows in served.groupby("request_id", sort=False):
        teams.append([A if s == pair[0] else B for s in rows["strategy"]])
        hits.append([(request, item) in clicked for item in rows["item_id"]])
    return {"a": pair[0], "b": pair[1], "preference": credit(teams, hits)}
