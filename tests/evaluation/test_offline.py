"""`circlerank evaluate` on a held-out week: the JSON, agreement with `rank` + the metric
functions, and the refusal of a bundle that saw the held-out period."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from circlerank.cli.main import main
from evaluation.metrics import per_user
from evaluation.offline import judgments
from evaluation.simulator import SimConfig, SimResult, simulate
from features.contract import load_contract


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimResult, Path, pd.Timestamp]:
    root = tmp_path_factory.mktemp("offline")
    world = simulate(SimConfig(users=500, days=21, seed=12), out_dir=root / "world")
    at = world.split_time - pd.Timedelta(days=5)
    models = root / "models"
    assert (
        main(
            [
                "-q",
                "train",
                "--data",
                str(world.out_dir),
                "--out",
                str(models),
                "--until",
                at.isoformat(),
            ]
        )
        == 0
    )
    return world, models, at


def test_evaluate_prints_every_strategy_and_agrees_with_rank(
    held_out, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world, models, at = held_out
    capsys.readouterr()
    out = tmp_path / "report"
    code = main(
        [
            "evaluate",
            "--data",
            str(world.out_dir),
            "--models",
            str(models),
            "--at",
            at.isoformat(),
            "--strategies",
            "engagement,popularity",
            "--json",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"strategies"}
    assert set(printed["strategies"]) == {"engagement", "popularity"}
    full = json.loads((out / "evaluate.json").read_text())
    page = (out / "evaluate.html").read_text()
    assert page.startswith("<!doctype html>") and page.count("<svg") == 7 and "<script" not in page
    assert len(full["pairs"]) == 6  # one pair, six measures
    for name, row in full["strategies"].items():
        for metric, (low, high) in full["intervals"][name].items():
            assert low <= row[metric] <= high
    # the same number from `rank` and the metric functions directly
    qrels = judgments(load_contract(world.out_dir)["events"], "feed", at)
    users = tmp_path / "users.txt"
    users.write_text("\n".join(pd.unique(qrels["user_id"])))
    ranked = tmp_path / "ranked.parquet"
    assert (
        main(
            [
                "-q",
                "rank",
                "--data",
                str(world.out_dir),
                "--models",
                str(models),
                "--surface",
                "feed",
                "--at",
                at.isoformat(),
                "--users",
                str(users),
                "--limit",
                "10",
                "--strategy",
                "engagement",
                "--out",
                str(ranked),
            ]
        )
        == 0
    )
    table = per_user(pd.read_parquet(ranked), qrels, k=10)
    table = table.reindex(pd.unique(qrels["user_id"]), fill_value=0.0)
    assert printed["strategies"]["engagement"]["ndcg@10"] == pytest.approx(table["ndcg"].mean())


def test_a_bundle_that_saw_the_held_out_period_is_refused(
    held_out, capsys: pytest.CaptureFixture[str]
) -> None:
    world, models, at = held_out
    early = (at - pd.Timedelta(days=1)).isoformat()
    code = main(
        [
            "evaluate",
            "--data",
            str(world.out_dir),
            "--models",
            str(models),
            "--at",
            early,
            "--strategies",
            "engagement",
        ]
    )
    assert code == 2 and "has seen the held-out period" in capsys.readouterr().err


def test_logged_requests_join_each_positive_to_its_impression() -> None:
    from evaluation.offline_ope import logged_requests

    ts = pd.Timestamp("2026-03-10T12:00:00Z")
    events = pd.DataFrame(
        {
            "surface": "feed",
            "ts": [ts] * 5 + [ts + pd.Timedelta(days=3)],
            "user_id": ["u1", "u1", "u1", "u2", "u2", "u1"],
            "item_id": ["p1", "p2", "p1", "p1", "p1", "p3"],
            "action": ["impression", "impression", "click", "impression", "like", "impression"],
            "request_id": ["r1", "r1", "r1", "r2", "r2", "r3"],
            "position": [0, 1, 0, 0, 0, 0],
            "propensity": [0.5, 0.5, None, 1.0, None, 1.0],
        }
    )
    got = logged_requests(events, "feed", ts, ts + pd.Timedelta(days=1))
    assert got["request_id"].tolist() == ["r1", "r1", "r2"]  # r3 is outside the window
    assert got["reward"].tolist() == [1.0, 0.0, 0.0]  # a like is not the primary action


def test_evaluate_estimates_strategies_off_policy(
    held_out, capsys: pytest.CaptureFixture[str]
) -> None:
    world, models, at = held_out
    capsys.readouterr()
    out_dir = Path(str(models) + "-ope")
    code = main(
        [
            "evaluate",
            "--data",
            str(world.out_dir),
            "--models",
            str(models),
            "--at",
            at.isoformat(),
            "--strategies",
            "engagement,popularity",
            "--ope",
            "--out",
            str(out_dir),
        ]
    )
    assert code == 0
    report = json.loads((out_dir / "evaluate.json").read_text())["ope"]
    assert report["requests"] > 0 and report["logged_value"] > 0
    for estimates in report["strategies"].values():
        assert set(estimates) == {"ips", "clipped_ips", "snips", "dr"}
        for e in estimates.values():
            assert e["ci_low"] <= e["value"] <= e["ci_high"] and e["ess"] > 0
    assert "off-policy: snips" in (out_dir / "evaluate.html").read_text()
