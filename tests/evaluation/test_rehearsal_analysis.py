"""The rehearsal's analysis: on made-up users with a known effect, CUPED finds the same
difference as the plain comparison with a narrower interval when the pre-experiment
covariate predicts the outcome, and the paired test agrees with scipy's; the worlds
design's launch effect of a policy against itself is exactly nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.abstats import paired, welch
from evaluation.rehearsal.analysis import LAUNCH_METRICS, ArmData, effects
from evaluation.rehearsal.measures import Daily
from evaluation.rehearsal.run import Rehearsal, rehearse
from evaluation.simulator import SimConfig


def _arm(rng: np.random.Generator, n: int, lift: float) -> ArmData:
    habit = rng.gamma(2.0, 2.0, n)  # how much each user clicks, before and during
    clicks_before = rng.poisson(habit * 2)
    clicks = rng.poisson(habit * 4 * (1 + lift))
    posts_before = rng.poisson(habit / 4)
    chance = np.minimum(0.8, 0.02 + 0.3 * posts_before) * (1 + lift)
    posted = (rng.random(n) < chance).astype(float)
    users = pd.DataFrame(
        {
            "clicks": clicks,
            "impressions": clicks * 10 + 1,
            "posted_recently": posted,
            "posts_per_day": posts_before / 14,
            "active_recently": np.ones(n),
            "new_creator": np.zeros(n, dtype=bool),
            "still_posting": np.zeros(n),
            "clicks_before": clicks_before.astype(float),
            "posts_before": posts_before.astype(float),
        }
    )
    empty = np.zeros((n, 20), dtype=np.int64)
    return ArmData(users, Daily(empty, empty, empty, empty.astype(bool), lead=14))


def test_cuped_keeps_the_effect_and_narrows_its_interval() -> None:
    rng = np.random.default_rng(7)
    arms = {"control": _arm(rng, 4000, 0.0), "treatment": _arm(rng, 4000, 0.1)}
    measured, means, _ = effects(arms, "control")
    for metric in ("clicks_per_user", "creator_share"):
        plain, adjusted = measured[metric]["treatment"], measured[f"{metric}_cuped"]["treatment"]
        width = plain.ci_high - plain.ci_low
        assert adjusted.ci_high - adjusted.ci_low < 0.9 * width
        assert abs(adjusted.diff - plain.diff) < width / 2
        assert adjusted.ci_low < 0.1 * means[metric] < adjusted.ci_high


def test_paired_matches_scipy_and_ignores_what_each_user_brings() -> None:
    rng = np.random.default_rng(3)
    habit = rng.gamma(2.0, 3.0, 500)
    control = habit + rng.normal(0, 1, 500)
    treatment = habit + 0.2 + rng.normal(0, 1, 500)
    effect = paired(control, treatment)
    oracle = stats.ttest_rel(treatment, control)
    assert effect.p_value == pytest.approx(oracle.pvalue)
    interval = oracle.confidence_interval(0.95)
    assert (effect.ci_low, effect.ci_high) == pytest.approx((interval.low, interval.high))
    # the users' own levels cancel: unpaired, the same data could not tell 0.2 from 0
    assert effect.ci_low > 0 > welch(control, treatment).ci_low


def test_a_launch_of_the_same_policy_in_both_worlds_changes_nothing() -> None:
    settings = Rehearsal(control="greedy", treatment="greedy", start_day=6, design="worlds")
    outcome = rehearse(SimConfig(users=300, days=10, seed=4), settings)
    launch = outcome.report["launch"]
    assert set(launch) == set(LAUNCH_METRICS) and outcome.report["launch_users"] > 200
    for rows in launch.values():
        assert rows["greedy_arm"]["diff"] == 0.0 and rows["greedy_arm"]["ci_high"] == 0.0
