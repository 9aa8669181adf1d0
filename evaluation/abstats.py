"""Statistics for A/B tests with users as the unit: Welch's t-test, the paired t-test
(each user measured under both arms, as a simulator can), the delta method for ratio
metrics, CUPED variance reduction, the sample-ratio-mismatch check, and mSPRT
always-valid p-values with confidence sequences for continuous monitoring."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from circlerank.errors import ConfigError

SRM_ALPHA = 0.001


@dataclass(frozen=True)
class Effect:
    """Treatment minus control, with a two-sided interval at the chosen level."""

    control: float
    treatment: float
    diff: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float

    @property
    def relative(self) -> float:
        return self.diff / self.control if self.control else float("nan")


def _arrays(*values: np.ndarray) -> list[np.ndarray]:
    out = [np.asarray(v, dtype=np.float64) for v in values]
    for v in out:
        if len(v) < 2:
            raise ConfigError(f"an arm needs at least 2 users, got {len(v)}")
    return out


def welch(control: np.ndarray, treatment: np.ndarray, alpha: float = 0.05) -> Effect:
    """Difference of means with Welch's unequal-variance t-test and interval."""
    c, t = _arrays(control, treatment)
    vc, vt = c.var(ddof=1) / len(c), t.var(ddof=1) / len(t)
    se = float(np.sqrt(vc + vt))
    diff = float(t.mean() - c.mean())
    df = (vc + vt) ** 2 / (vc**2 / (len(c) - 1) + vt**2 / (len(t) - 1)) if se > 0 else 1.0
    if se == 0:
        p = 1.0 if diff == 0 else 0.0
        return Effect(float(c.mean()), float(t.mean()), diff, 0.0, diff, diff, p)
    half = stats.t.ppf(1 - alpha / 2, df) * se
    p = float(2 * stats.t.sf(abs(diff / se), df))
    return Effect(float(c.mean()), float(t.mean()), diff, se, diff - half, diff + half, p)


def paired(control: np.ndarray, treatment: np.ndarray, alpha: float = 0.05) -> Effect:
    """Difference of means when each unit was measured under both conditions (row i of
    `control` and of `treatment` is the same unit): a t-test on the differences."""
    c, t = _arrays(control, treatment)
    if len(c) != len(t):
        raise ConfigError(f"paired values need one pair per unit, got {len(c)} and {len(t)}")
    d = t - c
    diff, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
    if se == 0:
        p = 1.0 if diff == 0 else 0.0
        return Effect(float(c.mean()), float(t.mean()), diff, 0.0, diff, diff, p)
    half = stats.t.ppf(1 - alpha / 2, len(d) - 1) * se
    p = float(2 * stats.t.sf(abs(diff / se), len(d) - 1))
    return Effect(float(c.mean()), float(t.mean()), diff, se, diff - half, diff + half, p)


def ratio_variance(numerator: np.ndarray, denominator: np.ndarray) -> tuple[float, float]:
    """sum(numerator) / sum(denominator) over users and its delta-method variance."""
    y, x = _arrays(numerator, denominator)
    n, mx = len(x), x.mean()
    if mx <= 0:
        raise ConfigError("a ratio metric needs a positive mean denominator")
    ratio = y.mean() / mx
    cov = np.cov(y, x, ddof=1)
    variance = (cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / (n * mx**2)
    return float(ratio), float(variance)


def delta_ratio(
    num_control: np.ndarray,
    den_control: np.ndarray,
    num_treatment: np.ndarray,
    den_treatment: np.ndarray,
    alpha: float = 0.05,
) -> Effect:
    """Difference of ratio metrics (e.g. clicks per impression, users as the unit)."""
    rc, vc = ratio_variance(num_control, den_control)
    rt, vt = ratio_variance(num_treatment, den_treatment)
    return _normal(rc, rt, float(np.sqrt(vc + vt)), alpha)


def _normal(control: float, treatment: float, se: float, alpha: float) -> Effect:
    diff = treatment - control
    if se == 0:
        return Effect(control, treatment, diff, 0.0, diff, diff, 1.0 if diff == 0 else 0.0)
    half = stats.norm.ppf(1 - alpha / 2) * se
    p = float(2 * stats.norm.sf(abs(diff / se)))
    return Effect(control, treatment, diff, se, diff - half, diff + half, p)


def cuped(
    y_control: np.ndarray,
    x_control: np.ndarray,
    y_treatment: np.ndarray,
    x_treatment: np.ndarray,
    alpha: float = 0.05,
) -> Effect:
    """Welch on y - theta (x - mean x), x a pre-period covariate unaffected by the
    treatment; theta = cov(y, x) / var(x) over both arms. Same expected difference,
    smaller variance the more x predicts y."""
    yc, xc, yt, xt = _arrays(y_control, x_control, y_treatment, x_treatment)
    y, x = np.r_[yc, yt], np.r_[xc, xt]
    vx = x.var(ddof=1)
    theta = float(np.cov(y, x, ddof=1)[0, 1] / vx) if vx > 0 else 0.0
    mx = x.mean()
    return welch(yc - theta * (xc - mx), yt - theta * (xt - mx), alpha)


def srm_p_value(observed: dict[str, int], shares: dict[str, float]) -> float:
    """Chi-square goodness of fit of users per arm to the configured shares; below
    SRM_ALPHA the split is broken and the experiment's results should not be read."""
    arms = list(shares)
    counts = np.array([observed.get(a, 0) for a in arms], dtype=np.float64)
    expected = np.array([shares[a] for a in arms]) / sum(shares.values()) * counts.sum()
    if counts.sum() == 0:
        return float("nan")
    return float(stats.chisquare(counts, expected).pvalue)


@dataclass(frozen=True)
class Sequential:
    """mSPRT with a normal mixture N(0, tau^2) over the effect, at each look."""

    diff: np.ndarray
    p_value: np.ndarray  # always valid: running minimum of 1 / likelihood ratio
    ci_low: np.ndarray  # confidence sequence: covers the effect at every look at once
    ci_high: np.ndarray


def msprt(
    looks: list[tuple[np.ndarray, np.ndarray]], tau: float | None = None, alpha: float = 0.05
) -> Sequential:
    """Always-valid p-values and a confidence sequence for the difference of means, one
    per look (control, treatment values observed so far). `tau`: the prior scale of
    effects; default a tenth of the pooled standard deviation at the first look."""
    rows: list[tuple[float, float, float, float]] = []  # diff, p, low, high per look
    running = 1.0
    for control, treatment in looks:
        c, t = _arrays(control, treatment)
        variance = c.var(ddof=1) / len(c) + t.var(ddof=1) / len(t)
        if tau is None:
            tau = 0.1 * float(np.sqrt((c.var(ddof=1) + t.var(ddof=1)) / 2)) or 1.0
        diff, tau2 = float(t.mean() - c.mean()), tau**2
        if variance <= 0:
            rows.append((diff, running, diff, diff))
            continue
        ratio = (variance + tau2) / variance
        log_lr = -0.5 * np.log(ratio) + diff**2 * tau2 / (2 * variance * (variance + tau2))
        running = min(running, float(np.exp(-log_lr)))
        # the diffs whose likelihood ratio stays below 1 / alpha
        width = float(
            np.sqrt(variance * ratio * variance / tau2 * (np.log(ratio) - 2 * np.log(alpha)))
        )
        rows.append((diff, running, diff - width, diff + width))
    table = np.array(rows, dtype=np.float64).reshape(-1, 4)
    return Sequential(table[:, 0], np.minimum(table[:, 1], 1.0), table[:, 2], table[:, 3])
