"""Rehearsed experiments on the simulator: a real difference is found, an A/A is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from circlerank.cli.main import main
from evaluation.closed_loop import rehearse
from evaluation.simulator import SimConfig


def test_short_pages_lower_clicks_per_user_and_raise_the_click_rate(tmp_path: Path) -> None:
    events, analysis = rehearse(
        SimConfig(users=1500, days=21, seed=8), tmp_path, "logging", "short"
    )
    effects = analysis.metrics
    assert effects["positives_per_user"]["short"].ci_high < 0
    assert effects["positives_per_impression"]["short"].ci_low > 0
    assert set(events["arm"]) == {"pre", "logging", "short"}
    # the arm of every event is its user's arm: no user in two arms
    assert analysis.mixed_users == 0


def test_an_aa_rehearsal_finds_nothing(tmp_path: Path) -> None:
    _, analysis = rehearse(SimConfig(users=1500, days=21, seed=9), tmp_path, "logging", "logging")
    out = analysis.to_json()
    assert not out["srm_flag"]
    for metric in out["metrics"].values():
        assert metric["logging_arm"]["p_value"] > 0.001


def test_the_command_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "-q",
            "rehearse",
            "--out",
            str(tmp_path),
            "--users",
            "800",
            "--days",
            "14",
            "--start-day",
            "5",
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "ab.json").read_text())
    assert report["control"] == "logging" and set(report["arms"]) == {"logging", "short"}
    assert {"creator_share", "retention", "new_creators_still_posting"} <= set(report["metrics"])
    assert (tmp_path / "ab.html").read_text().count("<svg") >= 3
    assert "positives_per_user" in capsys.readouterr().out
