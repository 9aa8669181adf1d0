"""`serve` refuses bad settings up front; `export-events` writes the contract table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from circlerank.cli.main import main
from serving.eventlog import LoggedEvent, SQLiteEventLog

from .conftest import ServedWorld


def test_serve_without_tokens_says_which_setting_is_missing(
    served_world: ServedWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CIRCLERANK_API_TOKENS", raising=False)
    args = ["serve", "--data", str(served_world.data), "--models", str(served_world.models)]
    assert main(args) == 2
    assert "CIRCLERANK_API_TOKENS" in capsys.readouterr().err


def test_serve_refuses_an_unknown_event_log_backend(
    served_world: ServedWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CIRCLERANK_API_TOKENS", "token-123456")
    monkeypatch.setenv("CIRCLERANK_EVENT_LOG", "mongodb://x")
    args = ["serve", "--data", str(served_world.data), "--models", str(served_world.models)]
    args += ["--snapshot", str(served_world.snapshot)]
    assert main(args) == 2
    assert "unknown backend; valid: sqlite:///path, postgresql://" in capsys.readouterr().err


def test_serve_refuses_an_online_store_that_is_not_redis(
    served_world: ServedWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CIRCLERANK_API_TOKENS", "token-123456")
    args = ["serve", "--data", str(served_world.data), "--models", str(served_world.models)]
    args += ["--online-store", "memcached://x"]
    assert main(args) == 2
    assert "--online-store must be a redis:// URL" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_export_events_writes_the_contract_columns(tmp_path: Path, suffix: str) -> None:
    log = SQLiteEventLog(tmp_path / "events.db")
    ts = pd.Timestamp("2026-03-21T10:00:00Z")
    log.append(
        [
            LoggedEvent("a", ts, "u1", "feed", "p1", "impression", "served", "r1", 0, 0.25, "x"),
            LoggedEvent("b", ts, "u1", "feed", "p1", "click", "posted"),
        ]
    )
    log.close()
    out = tmp_path / f"events{suffix}"
    assert (
        main(
            [
                "export-events",
                "--event-log",
                f"sqlite:///{tmp_path / 'events.db'}",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    got = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert got.columns.tolist() == [
        "event_id",
        "ts",
        "user_id",
        "surface",
        "item_id",
        "action",
        "request_id",
        "position",
        "propensity",
        "arm",
    ]
    assert got["event_id"].tolist() == ["a", "b"]
    assert got["propensity"].iloc[0] == 0.25 and pd.isna(got["propensity"].iloc[1])
