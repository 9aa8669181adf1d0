"""The rehearsal's analysis on made-up users with a known effect: CUPED finds the same
difference as the plain comparison with a narrower interval when the pre-experiment
covariate predicts the outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.rehearsal.analysis import ArmData, effects
from evaluation.rehearsal.measures import Daily


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
