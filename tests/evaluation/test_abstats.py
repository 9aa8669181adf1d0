"""A/B statistics against scipy and statsmodels, a bootstrap, and A/A simulations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from evaluation.abstats import (
    SRM_ALPHA,
    cuped,
    delta_ratio,
    msprt,
    ratio_variance,
    srm_p_value,
    welch,
)


def test_welch_equals_scipy_and_statsmodels() -> None:
    rng = np.random.default_rng(0)
    c, t = rng.normal(1.0, 2.0, 300), rng.normal(1.3, 1.0, 450)
    got = welch(c, t)
    reference = stats.ttest_ind(t, c, equal_var=False)
    assert got.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    low, high = CompareMeans(DescrStatsW(t), DescrStatsW(c)).tconfint_diff(usevar="unequal")
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high), rel=1e-10)
    assert got.diff == pytest.approx(t.mean() - c.mean())


def test_delta_method_variance_matches_a_bootstrap() -> None:
    rng = np.random.default_rng(1)
    impressions = rng.poisson(8, 2000) + 1
    clicks = rng.binomial(impressions, rng.beta(2, 18, 2000))
    ratio, variance = ratio_variance(clicks, impressions)
    boots = []
    for _ in range(2000):
        pick = rng.integers(0, 2000, 2000)
        boots.append(clicks[pick].sum() / impressions[pick].sum())
    assert ratio == pytest.approx(clicks.sum() / impressions.sum())
    assert np.sqrt(variance) == pytest.approx(np.std(boots, ddof=1), rel=0.05)
    effect = delta_ratio(clicks, impressions, clicks * 2, impressions)
    assert effect.diff == pytest.approx(ratio) and effect.p_value < 1e-6


def test_cuped_keeps_the_effect_and_narrows_the_interval() -> None:
    rng = np.random.default_rng(2)
    pre_c, pre_t = rng.gamma(2, 2, 3000), rng.gamma(2, 2, 3000)
    y_c = pre_c + rng.normal(0, 1, 3000)
    y_t = pre_t + 0.2 + rng.normal(0, 1, 3000)
    plain, adjusted = welch(y_c, y_t), cuped(y_c, pre_c, y_t, pre_t)
    assert adjusted.ci_low < 0.2 < adjusted.ci_high
    assert (adjusted.ci_high - adjusted.ci_low) < 0.5 * (plain.ci_high - plain.ci_low)


def test_srm_flags_51_49_at_100k_and_not_a_fair_split() -> None:
    shares = {"control": 0.5, "treatment": 0.5}
    assert srm_p_value({"control": 51_000, "treatment": 49_000}, shares) < SRM_ALPHA
    rng = np.random.default_rng(3)
    fair = int(rng.binomial(100_000, 0.5))
    assert srm_p_value({"control": fair, "treatment": 100_000 - fair}, shares) > SRM_ALPHA


def test_aa_false_positive_rate_of_welch_is_nominal() -> None:
    rng = np.random.default_rng(4)
    rejected = 0
    for _ in range(1000):
        c = rng.exponential(1.0, 400)  # skewed, like clicks per user
        t = rng.exponential(1.0, 400)
        rejected += welch(c, t).p_value < 0.05
    assert 0.035 <= rejected / 1000 <= 0.065


def _daily_looks(rng: np.random.Generator, days: int, per_day: int, effect: float):
    c = rng.exponential(1.0, (days, per_day))
    t = rng.exponential(1.0, (days, per_day)) + effect
    return [(c[: d + 1].ravel(), t[: d + 1].ravel()) for d in range(days)]


def test_msprt_stays_valid_when_peeking_every_day() -> None:
    rng = np.random.default_rng(5)
    peeking_welch = peeking_msprt = 0
    runs = 1000
    for _ in range(runs):
        looks = _daily_looks(rng, days=14, per_day=50, effect=0.0)
        peeking_msprt += msprt(looks).p_value.min() < 0.05
        peeking_welch += min(welch(c, t).p_value for c, t in looks) < 0.05
    assert peeking_msprt / runs <= 0.05
    assert peeking_welch / runs > 0.1  # why a sequential test is needed


def test_msprt_detects_a_real_effect_and_its_sequence_covers_it() -> None:
    rng = np.random.default_rng(6)
    result = msprt(_daily_looks(rng, days=14, per_day=200, effect=0.15))
    assert result.p_value[-1] < 0.05
    assert np.all(np.diff(result.p_value) <= 0)  # always-valid p-values never rise
    assert result.ci_low[-1] < 0.15 < result.ci_high[-1]
