"""Off-policy estimates of a target ranking policy's value from logged slates.

A logged row is one shown (request, slot, item) with its reward. The value of a policy
is its expected reward per request, summed over slots. It is estimated with weights
w = scale * target / propensity, under one of two slate models:

- exact slot: `propensity` is the data contract's, the logging policy's probability of
  this item in this slot; `target` is the target policy's (1 or 0 for a deterministic
  ranking); scale = 1. This assumes only that a slot's reward depends on its item and
  slot, not on the other items.
- position-based (item-position) model: a click needs a look at the slot, with a
  probability that depends on the slot alone (examination), times the item's
  attractiveness. `propensity` and `target` are each policy's probability of showing
  the item anywhere on the page; scale = examination(target's slot) / examination(logged
  slot). An item then counts wherever it was shown, so the weights are far smaller.
  The examination curve can be read off randomized requests (`examination_from_random`).

The estimators:

- ips: the mean over requests of sum w r;
- clipped_ips: the same with w capped at `clip` (less variance, biased down);
- snips: ips divided by the mean of the self-normalizer, sum(target / propensity) /
  page length per request, whose expectation is 1;
- dr: doubly robust, with a reward model q: per request, dm + sum w (r - q), where dm
  is the model's value of the target's page.

Each comes with a normal 95% interval from per-request contributions (linearized for
snips), the effective sample size of the weights, and warnings when propensities are
missing or tiny.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from circlerank.errors import ConfigError

TINY_PROPENSITY = 1e-3
MIN_ESS = 30.0  # fewer effective samples than this: the normal intervals mislead
ESTIMATORS = ("ips", "clipped_ips", "snips", "dr")


@dataclass(frozen=True)
class Logged:
    request: np.ndarray  # request code of each row (0..n_requests-1)
    slot: np.ndarray
    reward: np.ndarray
    propensity: np.ndarray  # logging policy: P(this item in this slot)
    target: np.ndarray  # target policy: P(this item in this slot)
    predicted: np.ndarray | None = None  # reward model for the logged item in its slot
    # the reward model's value of the target's item in this row's slot (summed over a
    # request's rows: the model's value of the target's page)
    target_predicted: np.ndarray | None = None
    scale: np.ndarray | None = None  # position-based model: examination ratio

    def __post_init__(self) -> None:
        n = len(self.request)
        for name in ("slot", "reward", "propensity", "target"):
            if len(getattr(self, name)) != n:
                raise ConfigError(f"logged {name}: {len(getattr(self, name))} rows, not {n}")


@dataclass(frozen=True)
class Estimate:
    estimator: str
    value: float
    ci_low: float
    ci_high: float
    se: float
    ess: float  # effective sample size of the weights: (sum w)^2 / sum w^2
    requests: int


@dataclass(frozen=True)
class Estimates:
    estimates: dict[str, Estimate]
    warnings: list[str] = field(default_factory=list)


def _interval(
    name: str, contributions: np.ndarray, value: float, ess: float, alpha: float
) -> Estimate:
    n = len(contributions)
    se = float(contributions.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    z = float(stats.norm.ppf(1 - alpha / 2))
    return Estimate(name, value, value - z * se, value + z * se, se, ess, n)


def estimate(logged: Logged, clip: float = 10.0, alpha: float = 0.05) -> Estimates:
    """Every estimator that the logged data supports (dr needs the reward model)."""
    warnings: list[str] = []
    p = np.asarray(logged.propensity, dtype=np.float64)
    usable = np.isfinite(p) & (p > 0)
    if not usable.all():
        warnings.append(
            f"{int((~usable).sum()):,} of {len(p):,} rows have a missing or non-positive "
            "propensity and were left out: the estimates cover the rest only"
        )
    tiny = usable & (p < TINY_PROPENSITY)
    if tiny.any():
        warnings.append(
            f"{int(tiny.sum()):,} rows have a propensity below {TINY_PROPENSITY:g}: "
            "their weights dominate; prefer snips, clipped_ips or dr"
        )
    if not usable.any():
        raise ConfigError("no logged row has a usable propensity: nothing to estimate from")
    keep = np.flatnonzero(usable)
    request = np.unique(logged.request[keep], return_inverse=True)[1]
    n = int(request.max()) + 1
    r = np.asarray(logged.reward, dtype=np.float64)[keep]
    ratio = np.asarray(logged.target, dtype=np.float64)[keep] / p[keep]
    scale = np.ones(len(keep)) if logged.scale is None else np.asarray(logged.scale)[keep]
    w = scale * ratio
    ess = float(w.sum() ** 2 / (w**2).sum()) if (w**2).sum() > 0 else 0.0
    if ess < max(MIN_ESS, 0.01 * len(keep)):
        warnings.append(
            f"effective sample size {ess:.0f} of {len(keep):,} rows: the target shows what "
            "the logging policy seldom did; intervals are unreliable"
        )

    def per_request(values: np.ndarray) -> np.ndarray:
        return np.bincount(request, weights=values, minlength=n)

    out: dict[str, Estimate] = {}
    c = per_request(w * r)
    out["ips"] = _interval("ips", c, float(c.mean()), ess, alpha)
    wc = np.minimum(w, clip)
    c = per_request(wc * r)
    clipped_ess = float(wc.sum() ** 2 / (wc**2).sum()) if (wc**2).sum() > 0 else 0.0
    out["clipped_ips"] = _interval("clipped_ips", c, float(c.mean()), clipped_ess, alpha)
    # snips: a ratio of means, linearized per request for its variance
    numerator = per_request(w * r)
    normalizer = per_request(ratio) / np.bincount(request, minlength=n)
    value = float(numerator.mean() / normalizer.mean())
    linear = (numerator - value * normalizer) / normalizer.mean()
    out["snips"] = _interval("snips", linear + value, value, ess, alpha)
    if logged.predicted is not None and logged.target_predicted is not None:
        q = np.asarray(logged.predicted, dtype=np.float64)[keep]
        dm = np.asarray(logged.target_predicted, dtype=np.float64)[keep]
        c = per_request(dm + w * (r - q))
        out["dr"] = _interval("dr", c, float(c.mean()), ess, alpha)
    return Estimates(out, warnings)


def examination_from_random(slot: np.ndarray, reward: np.ndarray, random: np.ndarray) -> np.ndarray:
    """Relative examination per slot (slot 0 = 1) from requests whose order was uniformly
    random: there every item is equally likely in every slot, so a slot's expected
    reward is proportional to the chance it is looked at. Sparse per-slot rates are
    smoothed by fitting a power law (slot + 1)^-d by Poisson maximum likelihood."""
    slot = np.asarray(slot)
    reward = np.asarray(reward, dtype=np.float64)
    random = np.asarray(random, dtype=bool)
    k = int(slot.max()) + 1
    shown = np.bincount(slot[random], minlength=k).astype(np.float64)
    clicked = np.bincount(slot[random], weights=reward[random], minlength=k)
    if clicked.sum() <= 0:
        raise ConfigError("no reward in the randomized requests: cannot read examination")
    position = np.arange(1, k + 1, dtype=np.float64)
    decays = np.linspace(0.0, 3.0, 301)
    best, best_ll = 0.0, -np.inf
    for d in decays:
        curve = position**-d
        scale = clicked.sum() / (shown * curve).sum()
        mean = np.maximum(scale * shown * curve, 1e-300)
        ll = float((clicked * np.log(mean) - mean).sum())
        if ll > best_ll:
            best, best_ll = float(d), ll
    return position**-best
