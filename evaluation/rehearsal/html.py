"""The rehearsal's report: ab's sections (arms, effects with intervals, sequential
bounds), then each community measure's daily series per arm."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import report
from ..ab import Analysis, html_sections

LABELS = {
    "clicks_per_user": "feed clicks per user that day",
    "clicks_per_impression": "feed clicks per impression that day",
    "creator_share": "share of users who posted in the last 7 days",
    "member_posts": "member-made posts written that day",
    "retention": "share of users active (acted or posted) in the last 7 days",
}


def sections(analysis: Analysis, data: dict[str, Any]) -> list[str]:
    out = html_sections(analysis)
    if "launch" in data:
        out.append(launch_section(data))
    daily: dict[str, dict[str, list[float]]] = data["daily"]
    for metric, label in LABELS.items():
        lines: dict[str, tuple[Sequence[float], Sequence[float]]] = {}
        for arm, by_metric in daily.items():
            ys = by_metric[metric]
            lines[arm] = ([float(d + 1) for d in range(len(ys))], ys)
        out.append(
            report.section(
                f"{metric} per day of the experiment",
                report.lines(lines, x_label="day of the experiment", y_label=label),
            )
        )
    for arm, seq in data["sequential_metrics"]["creator_share"].items():
        out.append(
            report.section(
                f"effect of {arm} on creator_share, with sequential bounds",
                report.lines(
                    {
                        "difference": (seq["days"], seq["diff"]),
                        "zero": (seq["days"], [0.0] * len(seq["days"])),
                    },
                    bands={"95% confidence sequence": (seq["days"], seq["ci_low"], seq["ci_high"])},
                    x_label="day of the experiment",
                    y_label="treatment - control",
                ),
                note=f"mSPRT always-valid p-value after the last look: {seq['p_value'][-1]:.3g}",
            )
        )
    return out


def launch_section(data: dict[str, Any]) -> str:
    """The worlds design's paired effects, relative to the control's mean."""
    control = data["control"]
    labels, values, lows, highs = [], [], [], []
    for metric, arms in data["launch"].items():
        base = arms[control]["mean"]
        for arm, row in arms.items():
            if arm == control or not base:
                continue
            labels.append(f"{metric}, {arm}")
            values.append(row["diff"] / base)
            lows.append(row["ci_low"] / base)
            highs.append(row["ci_high"] / base)
    return report.section(
        "launch effect: every user in both copies of the world",
        report.paragraphs(
            f"Design worlds measures each of the {data['launch_users']:,} users in every "
            "arm's copy of the world, so each user is their own control: the difference "
            "of their value in the arm's copy and in the control's, averaged over all "
            "users (paired t-test), relative to the control's mean. This is what a launch "
            "to everyone would do; the sections above split users in half as a live "
            "experiment must, with wider intervals."
        ),
        report.interval_bars(labels, values, lows, highs, reference=0.0),
    )
