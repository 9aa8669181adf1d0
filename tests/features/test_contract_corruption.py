"""A simulated world validates clean; the same world with every kind of planted bad row
yields exactly the planted per-table, per-reason counts, in Parquet and in CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evaluation.simulator import SimResult
from features.contract import TABLE_NAMES, load_contract
from tests.conftest import read_world
from tests.features.corrupt import corrupt, expected_counts, plan


def test_simulated_world_validates_with_nothing_quarantined(small_world: SimResult) -> None:
    data = load_contract(small_world.out_dir, as_of=small_world.split_time)
    report = data.report.to_dict()
    assert report["absent"] == []
    for name in TABLE_NAMES:
        table = report["tables"][name]
        assert table["quarantined"] == 0, (name, table["reasons"])
        assert table["read"] == table["accepted"] == small_world.row_counts[name] > 0


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_planted_bad_rows_are_quarantined_with_their_reasons(
    small_world: SimResult, tmp_path: Path, fmt: str
) -> None:
    as_of = small_world.split_time + pd.Timedelta(hours=1)
    world = read_world(small_world.out_dir)
    planted = plan(world, as_of)
    tables, expected_rows = corrupt(world, planted, seed=3)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(data_dir / f"{name}.csv", index=False)
        else:
            frame.to_parquet(data_dir / f"{name}.parquet", index=False)

    data = load_contract(data_dir, as_of=as_of, quarantine_dir=tmp_path / "q")

    counts = expected_counts(planted)
    assert set(counts) == set(TABLE_NAMES)  # every table got bad rows
    for name in TABLE_NAMES:
        report = data.report.tables[name]
        assert report.reasons == dict(counts[name]), name
        assert report.read == len(world[name]) + sum(counts[name].values())
        assert report.accepted == len(world[name])
        assert report.accepted + report.quarantined == report.read
        quarantined = pd.read_parquet(tmp_path / "q" / f"{name}.parquet")
        assert (
            dict(zip(quarantined["row"], quarantined["reason"], strict=True))
            == (expected_rows[name])
        )


def test_every_reason_kind_of_the_issue_is_planted(small_world: SimResult) -> None:
    world = read_world(small_world.out_dir)
    reasons = {p.reason.split(":")[0] for p in plan(world, small_world.split_time)}
    assert reasons == {
        "missing",
        "unknown_id",
        "out_of_range",
        "after_as_of",
        "duplicate_key",
        "unknown_value",
    }
