"""Which arm `ab` takes as the control: `--control`, else the arm named "control";
without either it refuses to guess. Events of no experiment's arm are left out."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from circlerank.cli.main import main
from serving.experiments import Experiment

from .test_ab import _log


@pytest.fixture(scope="module")
def aa_log() -> pd.DataFrame:
    """An A/A log (no effect) whose first labelled row is the treatment's, with pages
    outside the experiment (default, requested, fallback) mixed in."""
    log = _log(users=600, lift=0.0, seed=3)
    labelled = log[log["arm"].notna()]
    first = labelled[labelled["arm"] == "treatment"].head(1)
    outside = labelled.head(30).assign(
        arm=["default", "requested", "fallback"] * 10,
        user_id=[f"outside-{i}" for i in range(30)],
        event_id=[f"o{i}" for i in range(30)],
    )
    return pd.concat([first, outside, log.drop(first.index)], ignore_index=True)


def _ab(log: pd.DataFrame, tmp_path: Path, *flags: str) -> int:
    log.to_parquet(tmp_path / "events.parquet")
    events = str(tmp_path / "events.parquet")
    return main(["ab", "--events", events, "--experiment", "ranker", "--json", *flags])


def test_the_arm_named_control_is_the_control(
    aa_log: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert aa_log["arm"].dropna().iloc[0] == "treatment"  # first seen: what `ab` used to pick
    assert _ab(aa_log, tmp_path) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["control"] == "control"
    assert list(report["arms"]) == ["control", "treatment"]  # not default, requested, fallback
    assert set(report["metrics"]["positives_per_user"]) == {"control", "treatment"}


def test_control_names_the_control(
    aa_log: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _ab(aa_log, tmp_path, "--control", "treatment") == 0
    assert json.loads(capsys.readouterr().out)["control"] == "treatment"
    assert _ab(aa_log, tmp_path, "--control", "nope") == 2
    assert "--control 'nope' is not an arm; arms: control, treatment" in capsys.readouterr().err


def test_without_an_arm_named_control_ab_refuses_to_guess(
    aa_log: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    renamed = aa_log.assign(arm=aa_log["arm"].replace({"control": "a", "treatment": "b"}))
    assert _ab(renamed, tmp_path) == 2
    err = capsys.readouterr().err
    assert "which arm is the control?" in err and "--control NAME" in err
    assert "a, b" in err
    assert _ab(renamed, tmp_path, "--control", "b") == 0
    assert json.loads(capsys.readouterr().out)["control"] == "b"


def test_control_overrides_the_config(
    aa_log: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "experiments.toml"
    config.write_text(
        '[experiments.ranker]\nsurface = "feed"\nsalt = "s"\n'
        '[[experiments.ranker.arms]]\nname = "treatment"\nshare = 0.5\n'
        '[[experiments.ranker.arms]]\nname = "control"\nshare = 0.5\n'
    )
    assert _ab(aa_log, tmp_path, "--experiments", str(config)) == 0
    assert json.loads(capsys.readouterr().out)["control"] == "control"  # not the first arm
    assert _ab(aa_log, tmp_path, "--experiments", str(config), "--control", "treatment") == 0
    assert json.loads(capsys.readouterr().out)["control"] == "treatment"


def test_a_log_with_experiments_is_read_for_the_one_asked(
    aa_log: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows of other experiments (the same arm names, on the other surface or later on
    this one) are not this one's."""
    assert _ab(aa_log, tmp_path) == 0
    alone = json.loads(capsys.readouterr().out)
    labelled = aa_log[aa_log["arm"].notna()].head(400)
    suggestions = labelled.assign(
        experiment="suggestions_test",
        surface="circle_suggestions",
        arm=labelled["arm"].replace({"treatment": "bigger_circles"}),
        event_id=[f"x{i}" for i in range(len(labelled))],
    )
    later = labelled.assign(
        experiment="ranker_v2",
        ts=labelled["ts"] + pd.Timedelta(days=60),
        user_id="v2-" + labelled["user_id"],
        event_id=[f"y{i}" for i in range(len(labelled))],
    )
    log = pd.concat([aa_log.assign(experiment="ranker"), suggestions, later], ignore_index=True)
    assert _ab(log, tmp_path) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["arms"] == alone["arms"]
    assert _ab(log.assign(experiment="other"), tmp_path) == 2
    assert "no events of experiment 'ranker'" in capsys.readouterr().err


def test_a_config_control_defaults_to_the_arm_named_control() -> None:
    arms = [{"name": "treatment", "share": 0.5}, {"name": "control", "share": 0.5}]
    experiment = Experiment(name="x", surface="feed", salt="s", arms=arms)
    assert experiment.control_arm == "control"
    first = Experiment(
        name="x", surface="feed", salt="s", arms=[*arms[:1], {"name": "b", "share": 0.5}]
    )
    assert first.control_arm == "treatment"  # no arm named control: the first listed
    for reserved in ("default", "requested", "fallback"):
        with pytest.raises(ValueError, match="reserved"):
            Experiment(name="x", surface="feed", salt="s", arms=[{"name": reserved, "share": 1.0}])
