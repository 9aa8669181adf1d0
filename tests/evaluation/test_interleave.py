"""Team-draft interleaving: the algorithm's invariants, and agreement with true
differences on the simulator at a fraction of an A/B test's users."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.interleave import A, B, credit, team_draft
from evaluation.interleave_check import agreement
from evaluation.simulator import SimResult


def test_team_draft_takes_turns_without_repeats() -> None:
    rng = np.random.default_rng(0)
    a, b = list("abcdefgh"), list("hgfedcba")
    for _ in range(200):
        page, team = team_draft(a, b, 6, rng)
        assert len(page) == len(set(page)) == 6
        assert abs(team.count(A) - team.count(B)) <= 1
        # each team's items appear in its own ranking's order
        for side, ranking in ((A, a), (B, b)):
            mine = [p for p, t in zip(page, team, strict=True) if t == side]
            assert mine == sorted(mine, key=ranking.index)


def test_identical_rankings_tie_in_expectation() -> None:
    rng = np.random.default_rng(1)
    ranking = list(range(10))
    teams, clicks = [], []
    for _ in range(4000):
        _, team = team_draft(ranking, ranking, 5, rng)
        teams.append(team)
        clicks.append(rng.random(5) < 0.3)
    result = credit(teams, clicks)
    assert abs(result.preference) < 0.04 and result.p_value > 0.001


def test_short_lists_fill_from_the_other_team() -> None:
    page, team = team_draft(["x"], ["y", "z", "w"], 4, np.random.default_rng(2))
    assert sorted(page) == ["w", "x", "y", "z"] and team.count(B) == 3


def test_interleaving_agrees_with_true_differences_and_needs_fewer_users(
    small_world: SimResult,
) -> None:
    truth = pd.read_parquet(small_world.truth_dir / "feed_truth.parquet")
    result = agreement(truth, pairs=40, seed=0)
    assert result.agreement >= 0.95, result
    assert result.users_ratio > 1.0, result
