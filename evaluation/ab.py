"""A/B analysis of logged arms: users as the unit, every arm against the control.

From a contract `events` table whose rows carry the experiment's arms:
- users and impressions per arm, and a sample-ratio-mismatch check against the shares;
- per metric and arm: the mean, the difference from control with its 95% interval and
  p-value:
  - positives per user (clicks on the feed, joins on suggestions): Welch;
  - positives per impression: a ratio with users as the unit, by the delta method;
  - positives per user, CUPED: adjusted by the user's positives in the pre-period;
- an mSPRT always-valid p-value and confidence sequence on positives per user, looked at
  once a day.

A user seen in more than one arm breaks the assignment; such users are left out and
counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from circlerank.errors import ConfigError
from features.pit import TS

from . import report
from .abstats import SRM_ALPHA, Effect, cuped, delta_ratio, msprt, srm_p_value, welch

POSITIVE = {"feed": "click", "circle_suggestions": "join"}
PRE_PERIOD = pd.Timedelta(days=14)


@dataclass(frozen=True)
class Design:
    """What the analysis needs of an experiment: its arms with shares, the control arm,
    the surface and when it started."""

    name: str
    arms: dict[str, float]  # arm -> configured share
    control: str
    surface: str = "feed"
    start: pd.Timestamp | None = None


@dataclass
class Analysis:
    design: Design
    users: dict[str, int]
    impressions: dict[str, int]
    srm_p_value: float
    metrics: dict[str, dict[str, Effect]]  # metric -> treatment arm -> effect
    control_means: dict[str, float]
    sequential: dict[str, Any]  # arm -> days, diff, p_value, ci_low, ci_high (lists)
    mixed_users: int
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        metrics: dict[str, dict[str, dict[str, float | None]]] = {}
        for metric, effects in self.metrics.items():
            row: dict[str, dict[str, float | None]] = {
                self.design.control: {
                    "mean": self.control_means[metric],
                    "diff": 0.0,
                    "ci_low": 0.0,
                    "ci_high": 0.0,
                    "p_value": None,
                }
            }
            for arm, e in effects.items():
                row[arm] = {
                    "mean": e.treatment,
                    "diff": e.diff,
                    "ci_low": e.ci_low,
                    "ci_high": e.ci_high,
                    "p_value": e.p_value,
                }
            metrics[metric] = row
        return {
            "experiment": self.design.name,
            "control": self.design.control,
            "arms": {
                a: {"users": self.users.get(a, 0), "impressions": self.impressions.get(a, 0)}
                for a in self.design.arms
            },
            "srm_p_value": self.srm_p_value,
            "srm_flag": bool(self.srm_p_value < SRM_ALPHA),
            "metrics": metrics,
            "sequential": self.sequential,
            "mixed_users_left_out": self.mixed_users,
            "notes": self.notes,
        }


def analyse(events: pd.DataFrame, design: Design, alpha: float = 0.05) -> Analysis:
    if design.control not in design.arms:
        raise ConfigError(f"control {design.control!r} is not an arm of {design.name}")
    events = events[events["surface"] == design.surface]
    ts = events["ts"].astype(TS)
    in_arms = events["arm"].isin(list(design.arms)).to_numpy()
    if not in_arms.any():
        raise ConfigError(
            f"no {design.surface} events carry the arms of {design.name} "
            f"({', '.join(design.arms)}); arms seen: "
            f"{', '.join(map(str, events['arm'].dropna().unique()[:10])) or 'none'}"
        )
    start = design.start if design.start is not None else ts[in_arms].min()
    exp = events[in_arms & (ts >= start).to_numpy()]
    arms_per_user = exp.groupby("user_id")["arm"].nunique()
    mixed = arms_per_user.index[arms_per_user > 1]
    notes = []
    if len(mixed):
        notes.append(f"{len(mixed):,} users were seen in more than one arm and are left out")
    exp = exp[~exp["user_id"].isin(mixed)]
    positive = POSITIVE[design.surface]
    per_user = _per_user(exp, positive)
    pre = events[(ts < start).to_numpy() & (ts >= start - PRE_PERIOD).to_numpy()]
    pre_positives = (pre["action"] == positive).groupby(pre["user_id"]).sum()
    per_user["pre"] = pre_positives.reindex(per_user.index, fill_value=0).to_numpy()
    users = per_user.groupby("arm").size().to_dict()
    impressions = per_user.groupby("arm")["impressions"].sum().astype(int).to_dict()
    srm = srm_p_value({a: int(users.get(a, 0)) for a in design.arms}, design.arms)
    control = per_user[per_user["arm"] == design.control]
    metrics: dict[str, dict[str, Effect]] = {
        "positives_per_user": {},
        "positives_per_impression": {},
        "positives_per_user_cuped": {},
    }
    sequential: dict[str, Any] = {}
    for arm in design.arms:
        if arm == design.control:
            continue
        treated = per_user[per_user["arm"] == arm]
        if len(treated) < 2 or len(control) < 2:
            notes.append(f"arm {arm}: too few users to compare ({len(treated)})")
            continue
        metrics["positives_per_user"][arm] = welch(
            control["positives"].to_numpy(), treated["positives"].to_numpy(), alpha
        )
        metrics["positives_per_impression"][arm] = delta_ratio(
            control["positives"].to_numpy(),
            control["impressions"].to_numpy(),
            treated["positives"].to_numpy(),
            treated["impressions"].to_numpy(),
            alpha,
        )
        metrics["positives_per_user_cuped"][arm] = cuped(
            control["positives"].to_numpy(),
            control["pre"].to_numpy(),
            treated["positives"].to_numpy(),
            treated["pre"].to_numpy(),
            alpha,
        )
        sequential[arm] = _daily_sequential(exp, design.control, arm, positive, start, alpha)
    control_means = {
        "positives_per_user": float(control["positives"].mean()),
        "positives_per_impression": float(
            control["positives"].sum() / max(control["impressions"].sum(), 1)
        ),
        "positives_per_user_cuped": float(control["positives"].mean()),
    }
    return Analysis(
        design, users, impressions, srm, metrics, control_means, sequential, len(mixed), notes
    )


def _per_user(events: pd.DataFrame, positive: str) -> pd.DataFrame:
    """arm, impressions, positives per user."""
    action = events["action"]
    frame = pd.DataFrame(
        {
            "user_id": events["user_id"].to_numpy(),
            "arm": events["arm"].to_numpy(),
            "impressions": (action == "impression").to_numpy(dtype=np.int64),
            "positives": (action == positive).to_numpy(dtype=np.int64),
        }
    )
    return frame.groupby("user_id").agg(
        arm=("arm", "first"), impressions=("impressions", "sum"), positives=("positives", "sum")
    )


def _daily_sequential(
    events: pd.DataFrame,
    control: str,
    arm: str,
    positive: str,
    start: pd.Timestamp,
    alpha: float,
) -> dict[str, list[float]]:
    """mSPRT on positives per user, with the users and events seen by the end of each day."""
    ts = events["ts"].astype(TS)
    day = ((ts - start) // pd.Timedelta(days=1)).to_numpy()
    looks, days = [], []
    for d in range(int(day.max()) + 1):
        per = _per_user(events[day <= d], positive)
        c = per[per["arm"] == control]["positives"].to_numpy()
        t = per[per["arm"] == arm]["positives"].to_numpy()
        if len(c) >= 2 and len(t) >= 2:
            looks.append((c, t))
            days.append(d + 1)
    if not looks:
        return {"days": [], "diff": [], "p_value": [], "ci_low": [], "ci_high": []}
    result = msprt(looks, alpha=alpha)
    return {
        "days": [float(d) for d in days],
        "diff": result.diff.tolist(),
        "p_value": result.p_value.tolist(),
        "ci_low": result.ci_low.tolist(),
        "ci_high": result.ci_high.tolist(),
    }


PRIMARY = "positives_per_user"  # users are randomized: judge by what each user ends up doing


def metric_name(metric: str, surface: str) -> str:
    """A metric in words: positives_per_user on the feed is "clicks per user"."""
    positives = f"{POSITIVE.get(surface, 'positive')}s"
    name = metric.replace("positives", positives).replace("_cuped", " (CUPED)")
    return name.replace("_", " ")


def _effect_text(name: str, e: Effect) -> str:
    return f"{name} {e.diff:+.3g} [{e.ci_low:+.3g}, {e.ci_high:+.3g}] (p {e.p_value:.2g})"


def _moves(e: Effect, alpha: float) -> int:
    """+1 up, -1 down, 0 no clear change at level alpha."""
    if not e.p_value < alpha:
        return 0
    return 1 if e.diff > 0 else -1


def verdict(analysis: Analysis, arm: str, alpha: float = 0.05) -> str:
    """One sentence on a treatment arm: whether it wins, loses or makes no clear
    difference on positives per user, and every metric that moves the other way."""
    surface = analysis.design.surface
    effects = {m: by_arm[arm] for m, by_arm in analysis.metrics.items() if arm in by_arm}
    if PRIMARY not in effects:
        return f"treatment `{arm}`: too few users to compare with control"
    main = effects[PRIMARY]
    direction = _moves(main, alpha)
    head = {1: "wins", -1: "loses", 0: "makes no clear difference"}[direction]
    text = f"treatment `{arm}` {head}: {_effect_text(metric_name(PRIMARY, surface), main)}"
    others = [
        (m, e)
        for m, e in effects.items()
        if m != PRIMARY and _moves(e, alpha) not in (0, direction)
    ]
    for i, (m, e) in enumerate(others):
        lead = (", although " if direction else ", while ") if i == 0 else " and "
        rises = "rise" if e.diff > 0 else "fall"
        text += f"{lead}{metric_name(m, surface)} {rises} {_effect_text('', e).strip()}"
    text += _why(analysis, arm, effects, alpha)
    if analysis.srm_p_value < SRM_ALPHA:
        text = (
            "do not trust this result: the arms' sizes do not match their shares (sample "
            f"ratio mismatch, p {analysis.srm_p_value:.2g}); " + text
        )
    return text


def _why(analysis: Analysis, arm: str, effects: dict[str, Effect], alpha: float) -> str:
    """Why the rate and the total disagree, when they do: the arm's impressions."""
    rate = effects.get("positives_per_impression")
    total = effects[PRIMARY]
    if rate is None or _moves(rate, alpha) * _moves(total, alpha) >= 0:
        return ""
    control = analysis.design.control
    per_user = {
        a: analysis.impressions.get(a, 0) / max(analysis.users.get(a, 0), 1) for a in (arm, control)
    }
    positives = f"{POSITIVE.get(analysis.design.surface, 'positive')}s"
    more, fewer = ("more", "fewer") if rate.diff > 0 else ("fewer", "more")
    return (
        f"; `{arm}` shows {per_user[arm]:.1f} impressions per user against "
        f"{per_user[control]:.1f} in control: each impression draws {more} {positives}, "
        f"but each user makes {fewer} in total"
    )


METRIC_MEANINGS = {
    "positives_per_user": "what each user did in total over the experiment: the decision "
    "metric, since users (not impressions) are what the experiment randomizes",
    "positives_per_impression": "the rate per item shown: it rises when a page shows fewer, "
    "better items even if users end up doing less, so read it next to the per-user total",
    "positives_per_user_cuped": "the per-user total adjusted by each user's own activity "
    "before the experiment (CUPED): the same effect with a narrower interval",
}


def html_sections(analysis: Analysis) -> list[str]:
    """The report's sections: the verdict, arms and SRM, effects with intervals, and the
    cumulative effect with its sequential (always-valid) bounds; each says in words what
    it shows."""
    data = analysis.to_json()
    arms = data["arms"]
    control = analysis.design.control
    surface = analysis.design.surface
    treated_arms = [a for a in analysis.design.arms if a != control]
    out = [
        report.section(
            "verdict",
            report.paragraphs(*(verdict(analysis, a) for a in treated_arms), css="verdict"),
            report.paragraphs(
                f"Each arm is compared with the control `{control}`: the difference, its 95% "
                "interval and p-value. An effect is clear when its interval excludes 0 (p < "
                f"0.05). The decision metric is {metric_name(PRIMARY, surface)}."
            ),
        )
    ]
    srm = (
        "flagged: the arms' sizes differ from their configured shares by more than chance "
        "allows, so assignment or logging is broken and no effect below can be trusted"
        if data["srm_flag"]
        else "no mismatch: the arms' sizes fit their configured shares"
    )
    out.append(
        report.section(
            "arms",
            report.table(
                ["arm", "users", "impressions", "share configured"],
                [
                    [a, v["users"], v["impressions"], analysis.design.arms[a]]
                    for a, v in arms.items()
                ],
            ),
            note=f"sample ratio mismatch p = {data['srm_p_value']:.3g} ({srm})",
        )
    )
    for metric, by_arm in data["metrics"].items():
        treated = {a: v for a, v in by_arm.items() if v["p_value"] is not None}
        if not treated:
            continue
        out.append(
            report.section(
                f"{metric_name(metric, surface)}: difference from {control}",
                report.paragraphs(
                    f"{metric_name(metric, surface).capitalize()}: "
                    f"{METRIC_MEANINGS.get(metric, metric)}. Bars right of the dashed line "
                    "are gains over control; the whisker is the 95% interval."
                ),
                report.interval_bars(
                    list(treated),
                    [v["diff"] for v in treated.values()],
                    [v["ci_low"] for v in treated.values()],
                    [v["ci_high"] for v in treated.values()],
                    reference=0.0,
                ),
                report.table(
                    ["arm", "mean", "diff", "ci low", "ci high", "p"],
                    [
                        [a, v["mean"], v["diff"], v["ci_low"], v["ci_high"], v["p_value"]]
                        for a, v in by_arm.items()
                    ],
                ),
            )
        )
    out += _sequential_sections(analysis)
    if analysis.notes:
        out.append(
            report.section(
                "notes",
                report.paragraphs(*analysis.notes),
                note="left out of the analysis or too small to compare; the effects above "
                "are computed without them",
            )
        )
    return out


def _sequential_sections(analysis: Analysis) -> list[str]:
    out = []
    for arm, seq in analysis.sequential.items():
        if not seq["days"]:
            continue
        out.append(
            report.section(
                f"cumulative effect of {arm} on positives per user, with sequential bounds",
                report.paragraphs(
                    "The effect as it stood at the end of each day, inside a confidence "
                    "sequence: bounds that stay valid however often the experiment is looked "
                    "at, so stopping the first day the band leaves 0 is safe. A band that "
                    "still straddles 0 on the last day means: not yet decided."
                ),
                report.lines(
                    {
                        "difference": (seq["days"], seq["diff"]),
                        "zero": (seq["days"], [0.0] * len(seq["days"])),
                    },
                    bands={"95% confidence sequence": (seq["days"], seq["ci_low"], seq["ci_high"])},
                    x_label="day",
                    y_label="treatment - control",
                ),
                note=f"mSPRT always-valid p-value after the last look: {seq['p_value'][-1]:.3g}",
            )
        )
    return out
