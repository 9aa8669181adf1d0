"""The community measures of a rehearsal analysed as a live experiment: users as the
unit, each treatment arm against the control with a 95% interval (Welch; clicks per
impression by the delta method; clicks per user and creator_share also with CUPED, on
each user's clicks and posts in the 14 days before the experiment), and creator_share
looked at once a day with mSPRT's always-valid bounds (evaluation/abstats.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ..abstats import Effect, cuped, delta_ratio, msprt, paired, welch
from .measures import Daily

METRICS = (
    "clicks_per_user",
    "clicks_per_user_cuped",
    "clicks_per_impression",
    "creator_share",
    "creator_share_cuped",
    "member_posts_per_day",
    "retention",
    "new_creators_still_posting",
)
SERIES = ("clicks_per_user", "clicks_per_impression", "creator_share", "member_posts", "retention")


@dataclass(frozen=True)
class ArmData:
    """An arm's people: their per-user measures and daily counts."""

    users: pd.DataFrame
    daily: Daily


# metric -> the pre-experiment covariate its CUPED estimate adjusts by
COVARIATES = {"clicks_per_user_cuped": "clicks_before", "creator_share_cuped": "posts_before"}


def _value(users: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-user values of a metric (and a denominator for a ratio)."""
    metric = metric.removesuffix("_cuped")
    if metric == "clicks_per_user":
        return users["clicks"].to_numpy(np.float64), None
    if metric == "clicks_per_impression":
        return users["clicks"].to_numpy(np.float64), users["impressions"].to_numpy(np.float64)
    if metric == "creator_share":
        return users["posted_recently"].to_numpy(), None
    if metric == "member_posts_per_day":
        return users["posts_per_day"].to_numpy(), None
    if metric == "retention":
        return users["active_recently"].to_numpy(), None
    new = users[users["new_creator"]]
    return new["still_posting"].to_numpy(), None


def mean(users: pd.DataFrame, metric: str) -> float:
    y, x = _value(users, metric)
    if x is not None:
        return float(y.sum() / x.sum()) if x.sum() > 0 else float("nan")
    return float(y.mean()) if len(y) else float("nan")


def effects(
    arms: dict[str, ArmData], control: str, alpha: float = 0.05
) -> tuple[dict[str, dict[str, Effect]], dict[str, float], list[str]]:
    """metric -> arm -> effect against the control; the control's means; notes."""
    out: dict[str, dict[str, Effect]] = {m: {} for m in METRICS}
    notes = []
    base = arms[control].users
    for arm, data in arms.items():
        if arm == control:
            continue
        for metric in METRICS:
            (yc, xc), (yt, xt) = _value(base, metric), _value(data.users, metric)
            shown = [x.sum() for x in (xc, xt) if x is not None]
            if min(len(yc), len(yt)) < 2 or (shown and min(shown) == 0):
                notes.append(f"{metric}, arm {arm}: too few users to compare")
            elif xc is not None and xt is not None:
                out[metric][arm] = delta_ratio(yc, xc, yt, xt, alpha)
            elif metric in COVARIATES:
                covariate = COVARIATES[metric]
                before = base[covariate].to_numpy(), data.users[covariate].to_numpy()
                out[metric][arm] = cuped(yc, before[0], yt, before[1], alpha)
            else:
                out[metric][arm] = welch(yc, yt, alpha)
    means = {m: mean(base, m) for m in METRICS}
    return out, means, notes


# the per-user measures a worlds design compares user by user across the two copies
LAUNCH_METRICS = ("clicks_per_user", "creator_share", "member_posts_per_day", "retention")


def launch_effects(
    worlds: dict[str, ArmData], control: str, alpha: float = 0.05
) -> dict[str, dict[str, Effect]]:
    """metric -> arm -> effect, with every user measured in every arm's copy of the
    world (design worlds): each user's value in the arm's copy minus theirs in the
    control's, a paired t-test over all users. The effect a launch to everyone would
    have; far narrower than the half split's, since each user is their own control."""
    out: dict[str, dict[str, Effect]] = {m: {} for m in LAUNCH_METRICS}
    base = worlds[control].users
    for arm, data in worlds.items():
        if arm == control:
            continue
        for metric in LAUNCH_METRICS:
            out[metric][arm] = paired(_value(base, metric)[0], _value(data.users, metric)[0], alpha)
    return out


def series(data: ArmData, days: int) -> dict[str, list[float]]:
    """Daily values of an arm: clicks per user and per impression that day, creator
    share and retention over the 7 days to that day, member posts written that day."""
    d = data.daily
    n = max(len(data.users), 1)
    out: dict[str, list[float]] = {name: [] for name in SERIES}
    for day in range(days):
        col = d.lead + day
        clicks, shown = d.clicks[:, col].sum(), d.impressions[:, col].sum()
        out["clicks_per_user"].append(float(clicks / n))
        out["clicks_per_impression"].append(float(clicks / shown) if shown else float("nan"))
        out["creator_share"].append(float(d.recent(d.posts, day).mean()))
        out["member_posts"].append(float(d.posts[:, col].sum()))
        out["retention"].append(float(d.recent(d.active, day).mean()))
    return out


def creator_share_sequential(
    arms: dict[str, ArmData], control: str, days: int, alpha: float = 0.05
) -> dict[str, dict[str, list[float]]]:
    """mSPRT on creator_share (posted in the 7 days to each day's end), a look a day."""
    out = {}
    c = arms[control].daily
    for arm, data in arms.items():
        if arm == control:
            continue
        t = data.daily
        looks = [
            (c.recent(c.posts, d).astype(float), t.recent(t.posts, d).astype(float))
            for d in range(days)
        ]
        if not looks or min(len(looks[0][0]), len(looks[0][1])) < 2:
            continue
        result = msprt(looks, alpha=alpha)
        out[arm] = {
            "days": [float(d + 1) for d in range(days)],
            "diff": result.diff.tolist(),
            "p_value": result.p_value.tolist(),
            "ci_low": result.ci_low.tolist(),
            "ci_high": result.ci_high.tolist(),
        }
    return out


def relative(effect: Effect) -> dict[str, float]:
    """The difference and its interval as shares of the control's mean."""
    base = effect.control
    if not base:
        return {"diff": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    return {
        "diff": effect.diff / base,
        "ci_low": effect.ci_low / base,
        "ci_high": effect.ci_high / base,
    }


def to_rows(effects_by_metric: dict[str, dict[str, Effect]]) -> dict[str, Any]:
    """metric -> arm -> relative difference (for the summary)."""
    return {
        m: {a: relative(e) for a, e in by_arm.items()} for m, by_arm in effects_by_metric.items()
    }


def subset(data: ArmData, rows: np.ndarray) -> ArmData:
    d = data.daily
    daily = replace(
        d,
        clicks=d.clicks[rows],
        impressions=d.impressions[rows],
        posts=d.posts[rows],
        active=d.active[rows],
    )
    return ArmData(data.users.iloc[rows], daily)
