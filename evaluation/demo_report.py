"""The report `circlerank demo` ends with: ranking quality per strategy against the
truth, off-policy estimates against the truth, and a rehearsed A/B experiment; each
part says in words what it shows, which strategy is the default and what to conclude.

The same conclusions, shorter, are what the demo prints on the terminal
(`quality_text`, `ab.verdict`).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd

from ranking.strategy import load_strategies

from . import report
from .ab import Analysis, verdict
from .ab import html_sections as ab_sections
from .closed_loop import rehearse
from .ope_check import check_on_truth, summary
from .ope_check import html_sections as ope_sections
from .quality import EXPOSURE_HEAD, NEW_CREATOR_DAYS, K, QualityRow, exposure_cells
from .simulator import SimConfig

WIDTH = 100  # of prose lines on the terminal
SURFACE_NAMES = {"feed": "feed", "circle_suggestions": "circle suggestions"}
REHEARSAL = ("logging", "short")  # control, treatment
CLIPPED_WHY = (
    ": clipping caps the large weights of pages the logging policy rarely shows, so it "
    "undercounts a policy far from the logging one"
)
GOOD_COVERAGE = 0.85  # a 95% interval that holds the truth less often than this misleads
ORACLE_MEANING = (
    "Share of oracle: the true value of a strategy's pages (top {k}) over that of the best "
    "possible pages, by the simulator's truth; 1 = knowing what each user will do."
)


def default_strategies() -> dict[str, str]:
    """The strategy the API serves per surface when a request names none (the shipped
    strategies file)."""
    return dict(load_strategies().defaults)


def _by_surface(rows: list[QualityRow]) -> dict[str, list[QualityRow]]:
    out: dict[str, list[QualityRow]] = {}
    for r in rows:
        out.setdefault(r.surface, []).append(r)
    return out


def quality_conclusion(mine: list[QualityRow], default: str | None) -> str:
    """What to read off one surface's shares: the default's place against the best
    strategy and the floor, and (feed) the exposure the default buys with the gap."""
    best = max(mine, key=lambda r: r.share)
    floor = min(mine, key=lambda r: r.share)
    chosen = next((r for r in mine if r.strategy == default), None)
    if chosen is None:
        return f"best: {best.label} ({best.share:.3f}); floor: {floor.label} ({floor.share:.3f})"
    if chosen is best:
        return (
            f"the default, {chosen.strategy}, is the best strategy here ({chosen.share:.3f}; "
            f"{floor.label} {floor.share:.3f})"
        )
    text = (
        f"the default, {chosen.strategy}, keeps {chosen.share / best.share:.1%} of the best "
        f"share ({best.label}, {best.share:.3f})"
    )
    a, b = best.exposure, chosen.exposure
    if a is not None and b is not None:
        more = "more" if b.new_creators >= a.new_creators else "fewer"
        text += (
            f" for {more} posts by new creators ({a.new_creators:.3f} -> {b.new_creators:.3f}) "
            f"and authors per page ({a.authors_per_page:.3f} -> {b.authors_per_page:.3f})"
        )
    return text


def quality_text(rows: list[QualityRow]) -> str:
    """Share of oracle per strategy for the terminal: one table per surface with the
    default marked, what the figure means, and what to conclude."""
    defaults = default_strategies()
    lines = textwrap.wrap(ORACLE_MEANING.format(k="k"), WIDTH)
    for surface, mine in _by_surface(rows).items():
        head = f"{SURFACE_NAMES.get(surface, surface)}, top {K[surface]}"
        head = f"{head:<44}{'share':>7}"
        if mine[0].exposure is not None:
            head += EXPOSURE_HEAD
        lines.append(head)
        for r in mine:
            mark = "  <- default" if r.strategy == defaults.get(surface) else ""
            lines.append(f"  {r.label:<42}{r.share:>7.3f}{exposure_cells(r)}{mark}")
        if mine[0].exposure is not None:
            legend = (
                "member: shown posts by circle members; new cr.: by authors whose first post "
                f"is <= {NEW_CREATOR_DAYS:.0f} days old; Gini: unevenness over authors (lower "
                "= fairer); authors: distinct per page / page length"
            )
            lines += textwrap.wrap(legend, WIDTH, initial_indent="  ", subsequent_indent="  ")
        conclusion = quality_conclusion(mine, defaults.get(surface))
        lines += textwrap.wrap(conclusion, WIDTH, initial_indent="  -> ", subsequent_indent="     ")
    return "\n".join(lines)


def intro_section(rows: list[QualityRow], analysis: Analysis) -> str:
    defaults = default_strategies()
    served = ", ".join(f"`{name}` on {SURFACE_NAMES.get(s, s)}" for s, name in defaults.items())
    control, treatment = REHEARSAL
    return report.section(
        "What this report shows",
        report.paragraphs(
            "A small simulated world, ranked at its split time by every strategy, judged "
            "against the simulator's truth (what users would really do), which a live "
            "system never has.",
            f"Default strategies (what the API serves when a request names none and no "
            f"experiment assigns one): {served}. They are marked in every table below.",
            "1. Ranking quality: how close each strategy's pages come to the best possible. "
            "2. Off-policy estimates: whether estimators that judge a new policy from logged "
            "pages alone recover its true value. 3. A rehearsed A/B test of "
            f"`{treatment}` pages against `{control}`.",
        ),
        report.paragraphs(
            *(quality_conclusion(m, defaults.get(s)) for s, m in _by_surface(rows).items()),
            verdict(analysis, treatment),
            css="verdict",
        ),
    )


def quality_sections(rows: list[QualityRow]) -> list[str]:
    defaults = default_strategies()
    out = []
    for surface, mine in _by_surface(rows).items():
        default = defaults.get(surface)
        labels = [f"{r.label} (default)" if r.strategy == default else r.label for r in mine]
        out.append(
            report.section(
                f"{SURFACE_NAMES.get(surface, surface)}: share of oracle@{K[surface]} at the split",
                report.paragraphs(quality_conclusion(mine, default), css="verdict"),
                report.interval_bars(labels, [r.share for r in mine]),
                note="the true value of each strategy's pages over the best possible pages",
            )
        )
    return out


def ope_conclusion(table: pd.DataFrame) -> list[str]:
    """What the replications say: which estimators' intervals can be trusted, and what
    a low coverage means where there is one."""
    flat = table.reset_index()
    poor = flat[flat["coverage"] < GOOD_COVERAGE]
    if poor.empty:
        return [
            f"Every estimator's 95% interval held the true value in at least "
            f"{GOOD_COVERAGE:.0%} of the replications: the estimates can be trusted here."
        ]
    worst = poor.sort_values("coverage").iloc[0]
    listed = "; ".join(
        f"{r.estimator} on {r.target} ({r.slate_model.replace('_', ' ')}): coverage "
        f"{r.coverage:.2f}, bias {r.bias:+.3f}"
        for r in poor.itertuples()
    )
    return [
        f"Intervals that miss the truth too often (coverage below {GOOD_COVERAGE:.2f}): {listed}.",
        f"A coverage of {worst.coverage:.2f} means the interval around that estimate held the "
        "true value in that share of replications (at 0, never): the estimator is biased "
        f"for that policy (here by {worst.bias:+.3f} clicks per request)"
        + (CLIPPED_WHY if worst.estimator == "clipped_ips" else "")
        + ". Do not choose a policy by those estimates; the ones not listed are sound.",
    ]


def ope_intro(table: pd.DataFrame) -> str:
    return report.section(
        "Off-policy estimates",
        report.paragraphs(
            "Each target policy's clicks per request estimated from logged pages alone "
            "(IPS, clipped IPS, SNIPS, doubly robust), under two slate models, against its "
            "true value (the dashed line). A good estimator's bar sits on the line and its "
            "95% interval covers it.",
            "Coverage: the share of replications whose 95% interval holds the true value, "
            "ideally about 0.95. Bias: the mean error. ESS: effective sample size of the "
            "weights (small = few logged pages carry the estimate).",
        ),
        report.paragraphs(*ope_conclusion(table), css="verdict"),
    )


def write_demo_report(
    out: Path, rows: list[QualityRow], truth_dir: Path, seed: int
) -> tuple[Path, dict[str, Any]]:
    """Write out/report.html and out/report.json; the HTML path and the JSON."""
    ope = check_on_truth(truth_dir)
    table = summary(ope)
    control, treatment = REHEARSAL
    _, analysis = rehearse(
        SimConfig(users=2_000, days=21, seed=seed + 1),
        out / "rehearsal_world",
        control,
        treatment,
    )
    sections = [
        intro_section(rows, analysis),
        report.section(
            "Ranking quality",
            report.paragraphs(ORACLE_MEANING.format(k="k: 10 posts, 5 circles")),
        ),
        *quality_sections(rows),
        ope_intro(table),
        *ope_sections(ope),
        report.section(
            f"A rehearsed experiment: `{treatment}` pages vs `{control}`",
            report.paragraphs(
                f"The simulator's users served by `{control}` (its logging policy: mostly "
                f"greedy, some exploration) or `{treatment}` (greedy, three items a page) by a "
                "50/50 hash of the user id, acting by the truth; the logged events analysed "
                "as a live experiment would be (`circlerank ab`)."
            ),
        ),
        *ab_sections(analysis),
    ]
    data = {
        "defaults": default_strategies(),
        "quality": {f"{r.surface}/{r.strategy}": r.share for r in rows},
        "ope": table.reset_index().to_dict(orient="records"),
        "ab": analysis.to_json(),
        "ab_verdict": verdict(analysis, treatment),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(data, indent=2, default=float) + "\n")
    page = report.write_report(out / "report.html", "circlerank demo", sections)
    return page, data
