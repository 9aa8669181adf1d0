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

import numpy as np
from scipy import stats

A, B = 0, 1


def team_draft(
    a: Sequence[object], b: Sequence[object], k: int, rng: np.random.Generator
) -> tuple[list[object], list[int]]:
    """The interleaved page (at most k items) and the team (A or B) of each slot."""
    page: list[object] = []
    team: list[int] = []
    placed: set[object] = set()
    picks = [0, 0]
    cursor = [0, 0]
    lists = (list(a), list(b))
    while len(page) < k:
        if picks[A] < picks[B]:
            turn = A
        elif picks[B] < picks[A]:
            turn = B
        else:
            turn = int(rng.random() < 0.5)
        source = lists[turn]
        while cursor[turn] < len(source) and source[cursor[turn]] in placed:
            cursor[turn] += 1
        if cursor[turn] == len(source):  # this team has nothing left: the other goes on
            other = lists[1 - turn]
            while cursor[1 - turn] < len(other) and other[cursor[1 - turn]] in placed:
                cursor[1 - turn] += 1
            if cursor[1 - turn] == len(other):
                break
            turn = 1 - turn
        item = lists[turn][cursor[turn]]
        page.append(item)
        team.append(turn)
        placed.add(item)
        picks[turn] += 1
    return page, team


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
