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
