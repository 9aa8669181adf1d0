"""The report `circlerank demo` ends with: ranking quality per strategy against the
truth, off-policy estimates against the truth, and a rehearsed A/B experiment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import report
from .ab import html_sections as ab_sections
from .closed_loop import rehearse
from .ope_check import check_on_truth, summary
from .ope_check import html_sections as ope_sections
from .quality import K, QualityRow
from .simulator import SimConfig


def quality_sections(rows: list[QualityRow]) -> list[str]:
    out = []
    for surface in dict.fromkeys(r.surface for r in rows):
        mine = [r for r in rows if r.surface == surface]
        out.append(
            report.section(
                f"{surface}: share of oracle@{K[surface]} at the split",
                report.interval_bars([r.label for r in mine], [r.share for r in mine]),
                note="the true value of each strategy's pages over the best possible pages",
            )
        )
    return out


def write_demo_report(
    out: Path, rows: list[QualityRow], truth_dir: Path, seed: int
) -> tuple[Path, dict[str, Any]]:
    """Write out/report.html and out/report.json; the HTML path and the JSON."""
    ope = check_on_truth(truth_dir)
    _, analysis = rehearse(
        SimConfig(users=2_000, days=21, seed=seed + 1), out / "rehearsal_world", "logging", "short"
    )
    sections = [
        report.section("Ranking quality", note="against the simulator's true probabilities"),
        *quality_sections(rows),
        report.section("Off-policy estimates", note="logged slates replayed against the truth"),
        *ope_sections(ope),
        report.section("A rehearsed experiment: short pages vs the logging policy"),
        *ab_sections(analysis),
    ]
    data = {
        "quality": {f"{r.surface}/{r.strategy}": r.share for r in rows},
        "ope": summary(ope).reset_index().to_dict(orient="records"),
        "ab": analysis.to_json(),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(data, indent=2, default=float) + "\n")
    page = report.write_report(out / "report.html", "circlerank demo", sections)
    return page, data
