"""`ab` on a logged experiment with a known effect: the JSON shape, the statistics
against scipy, SRM, users seen in two arms, and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from circlerank.cli.main import main
from evaluation.ab import Design, analyse

START = pd.Timestamp("2026-11-01", tz="UTC")


def _log(users: int = 4000, lift: float = 0.3, seed: int = 0) -> pd.DataFrame:
    """Users split 50/50; each has a pre-period and 14 days in the experiment. The
    treatment clicks 30% more per impression; pre-period clicks predict later ones."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        arm = "treatment" if rng.random() < 0.5 else "control"
        taste = rng.gamma(2.0, 0.05)
        for when, days, labelled in ((START - pd.Timedelta(days=14), 14, None), (START, 14, arm)):
            shown = rng.poisson(2 * days)
            p = taste * (1 + lift if labelled == "treatment" else 1.0)
            clicks = rng.binomial(shown, min(p, 1.0))
            offsets = rng.uniform(0, days, shown + clicks)
            for i in range(shown + clicks):
                rows.append(
                    (
                        f"u{u}",
                        when + pd.Timedelta(days=float(offsets[i])),
                        "impression" if i < shown else "click",
                        labelled,
                    )
                )
    frame = pd.DataFrame(rows, columns=["user_id", "ts", "action", "arm"])
    return frame.assign(surface="feed", item_id="p1", event_id=[f"e{i}" for i in range(len(frame))])


DESIGN = Design("ranker", {"control": 0.5, "treatment": 0.5}, "control", "feed", START)


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return _log()


def test_the_json_has_the_documented_shape(log: pd.DataFrame) -> None:
    out = analyse(log, DESIGN).to_json()
    assert out["experiment"] == "ranker" and set(out["arms"]) == {"control", "treatment"}
    assert set(out["arms"]["control"]) == {"users", "impressions"}
    for metric in out["metrics"].values():
        assert set(metric["treatment"]) == {"mean", "diff", "ci_low", "ci_high", "p_value"}
        assert metric["control"]["diff"] == 0.0
    assert 0 <= out["srm_p_value"] <= 1 and not out["srm_flag"]


def test_effects_are_found_and_equal_scipy(log: pd.DataFrame) -> None:
    analysis = analyse(log, DESIGN)
    exp = log[log["arm"].notna()]
    clicks = (exp["action"] == "click").groupby([exp["arm"], exp["user_id"]]).sum()
    reference = stats.ttest_ind(clicks["treatment"], clicks["control"], equal_var=False)
    per_user = analysis.metrics["positives_per_user"]["treatment"]
    assert per_user.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    ratio = analysis.metrics["positives_per_impression"]["treatment"]
    assert ratio.relative == pytest.approx(0.3, abs=0.1) and ratio.p_value < 0.001
    adjusted = analysis.metrics["positives_per_user_cuped"]["treatment"]
    assert adjusted.ci_high - adjusted.ci_low < per_user.ci_high - per_user.ci_low
    seq = analysis.sequential["treatment"]
    assert len(seq["days"]) == 14 and seq["p_value"][-1] < 0.05


def test_users_in_two_arms_are_left_out_and_a_broken_split_is_flagged(log: pd.DataFrame) -> None:
    broken = log.copy()
    first = broken.index[(broken["user_id"] == "u1") & broken["arm"].notna()][0]
    broken.loc[first, "arm"] = "treatment" if broken.loc[first, "arm"] == "control" else "control"
    analysis = analyse(broken, DESIGN)
    assert analysis.mixed_users == 1 and analysis.notes
    lopsided = analyse(
        log, Design("ranker", {"control": 0.3, "treatment": 0.7}, "control", "feed", START)
    )
    assert lopsided.to_json()["srm_flag"]


def test_the_command_prints_json(
    log: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log.to_parquet(tmp_path / "events.parquet")
    experiments = tmp_path / "experiments.toml"
    experiments.write_text(
        '[experiments.ranker]\nsurface = "feed"\nsalt = "s"\ncontrol = "control"\n'
        "start = 2026-11-01T00:00:00Z\n"
        '[[experiments.ranker.arms]]\nname = "control"\nshare = 0.5\n'
        '[[experiments.ranker.arms]]\nname = "treatment"\nshare = 0.5\n'
    )
    code = main(
        [
            "ab",
            "--events",
            str(tmp_path / "events.parquet"),
            "--experiment",
            "ranker",
            "--experiments",
            str(experiments),
            "--json",
            "--out",
            str(tmp_path / "report"),
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads((tmp_path / "report" / "ab.json").read_text()) == printed
    page = (tmp_path / "report" / "ab.html").read_text()
    assert "confidence sequence" in page and page.count("<svg") == 4
    assert printed["metrics"]["positives_per_user"]["treatment"]["p_value"] < 0.05
    assert (
        main(
            [
                "ab",
                "--events",
                str(tmp_path / "events.parquet"),
                "--experiment",
                "other",
                "--experiments",
                str(experiments),
            ]
        )
        == 2
    )
