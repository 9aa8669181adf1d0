"""The reports say in words what they show: the A/B verdict per metric (computed from
the data, metrics moving the other way included), the default strategy of each surface
(read from the strategies file), and what the figures mean."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation import report
from evaluation.ab import Analysis, Design, analyse, html_sections, verdict
from evaluation.demo_report import intro_section, quality_sections, quality_text
from evaluation.exposure import Exposure
from evaluation.quality import QualityRow
from ranking.strategy import load_strategies

START = pd.Timestamp("2026-03-08", tz="UTC")


def _log(short_clicks: float, seed: int = 0) -> pd.DataFrame:
    """Control users see 20 posts and click 10% of them; `short` users see 5 and click
    `short_clicks` of them: a higher rate on fewer impressions."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(600):
        arm = "logging" if i % 2 else "short"
        shown, rate = (20, 0.1) if arm == "logging" else (5, short_clicks)
        ts = START + pd.Timedelta(hours=int(rng.integers(0, 24 * 7)))
        for k in range(shown):
            rows.append((f"u{i}", arm, ts, f"p{k}", "impression"))
            if rng.random() < rate:
                rows.append((f"u{i}", arm, ts, f"p{k}", "click"))
    frame = pd.DataFrame(rows, columns=["user_id", "arm", "ts", "item_id", "action"])
    return frame.assign(surface="feed")


def _analysis(short_clicks: float) -> Analysis:
    design = Design("short_pages", {"logging": 0.5, "short": 0.5}, "logging", "feed", START)
    return analyse(_log(short_clicks), design)


@pytest.fixture(scope="module")
def loses() -> Analysis:
    return _analysis(short_clicks=0.2)


def test_the_verdict_names_the_loser_and_the_metric_that_rises(loses: Analysis) -> None:
    per_user = loses.metrics["positives_per_user"]["short"]
    rate = loses.metrics["positives_per_impression"]["short"]
    assert per_user.diff < 0 < rate.diff and per_user.p_value < 0.05 > rate.p_value
    said = verdict(loses, "short")
    assert said.startswith(
        f"treatment `short` loses: clicks per user {per_user.diff:+.3g} "
        f"[{per_user.ci_low:+.3g}, {per_user.ci_high:+.3g}] (p {per_user.p_value:.2g})"
    )
    assert f", although clicks per impression rise {rate.diff:+.3g}" in said
    shown = {a: loses.impressions[a] / loses.users[a] for a in ("short", "logging")}
    assert (
        f"`short` shows {shown['short']:.1f} impressions per user against "
        f"{shown['logging']:.1f} in control: each impression draws more clicks, but each user "
        "makes fewer in total"
    ) in said


def test_no_clear_difference_is_said_as_such() -> None:
    same = _analysis(short_clicks=0.1)  # same rate: the total falls, the rate does not move
    said = verdict(same, "short")
    assert said.startswith("treatment `short` loses: clicks per user")
    assert "although" not in said  # nothing moves the other way
    log = _log(0.1)
    mixed = log.assign(arm=np.where(log["user_id"].str[1:].astype(int) // 2 % 2, "a", "b"))
    even = analyse(mixed, Design("even", {"a": 0.5, "b": 0.5}, "a", "feed", START))
    assert verdict(even, "b").startswith("treatment `b` makes no clear difference: clicks per user")


def test_the_ab_html_states_the_verdict_computed_from_the_data(
    loses: Analysis, tmp_path: Path
) -> None:
    page = report.write_report(tmp_path / "ab.html", "ab", html_sections(loses)).read_text()
    assert f'<p class="verdict">{verdict(loses, "short")}</p>' in page
    assert "The decision metric is clicks per user." in page
    assert "no mismatch: the arms&#x27; sizes fit their configured shares" in page


def _rows() -> list[QualityRow]:
    seen = Exposure(member_made=0.8, new_creators=0.1, author_gini=0.5, authors_per_page=0.7)
    fairer = Exposure(member_made=0.8, new_creators=0.2, author_gini=0.4, authors_per_page=0.9)
    defaults = load_strategies().defaults
    return [
        QualityRow("feed", "random", "random", 0.5, 0.0, seen),
        QualityRow("feed", "the best", "blend", 0.9, 0.0, seen),
        QualityRow("feed", "the default", defaults["feed"], 0.8, 0.0, fairer),
        QualityRow("circle_suggestions", "random", "random_circles", 0.2, 0.0),
        QualityRow("circle_suggestions", "the default", defaults["circle_suggestions"], 0.7, 0.0),
    ]


def test_the_quality_sections_mark_the_default_and_say_what_to_conclude(tmp_path: Path) -> None:
    defaults = load_strategies().defaults
    page = report.write_report(tmp_path / "q.html", "q", quality_sections(_rows())).read_text()
    assert "the default (default)" in page and "the best (default)" not in page
    assert (
        f"the default, {defaults['feed']}, keeps 88.9% of the best share (the best, 0.900)" in page
    )
    assert "for more posts by new creators (0.100 -&gt; 0.200)" in page
    assert f"the default, {defaults['circle_suggestions']}, is the best strategy here" in page


def test_the_intro_names_each_default_and_the_ab_verdict(loses: Analysis, tmp_path: Path) -> None:
    page = report.write_report(tmp_path / "i.html", "i", [intro_section(_rows(), loses)])
    text = page.read_text()
    for surface, name in load_strategies().defaults.items():
        assert f"`{name}` on {surface.replace('_', ' ')}" in text
    assert "Default strategies (what the API serves" in text
    assert verdict(loses, "short") in text


def test_the_terminal_table_has_no_internal_target_and_marks_the_default() -> None:
    text = quality_text(_rows())
    assert "target" not in text
    marked = [line for line in text.splitlines() if line.endswith("<- default")]
    assert len(marked) == 2 and all("the default" in line for line in marked)
    assert text.startswith("Share of oracle: the true value of a strategy's pages (top k)")


def test_the_evaluate_report_opens_with_the_default_and_the_clear_differences(
    tmp_path: Path,
) -> None:
    from circlerank.cli.evaluate import _intro
    from evaluation.offline import Comparison, Interval

    default = load_strategies().defaults["feed"]
    metrics = {
        default: {"ndcg": Interval(0.31, 0.29, 0.33)},
        "random": {"ndcg": Interval(0.12, 0.10, 0.14)},
    }
    pairs = [
        {"a": default, "b": "random", "metric": "ndcg@10", "diff": -0.19, "p_value": 1e-9},
        {"a": default, "b": "random", "metric": "mrr@10", "diff": -0.2, "p_value": 1e-9},
    ]
    result = Comparison("feed", 10, 1234, metrics, {}, pairs)
    text = report.write_report(tmp_path / "e.html", "e", [_intro(result, default, "T")])
    page = text.read_text()
    assert f"is `{default}`." in page
    assert f"Highest NDCG@10: `{default}` (the default), 0.3100." in page
    assert f"`{default}` beats `random` on NDCG@10 by 0.1900 (p 1e-09)." in page
    assert page.count("beats") == 1  # MRR is not the headline
