"""Every event acknowledged with 202 survives a SIGKILL of the server."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import httpx
import pytest

from serving.eventlog import SQLiteEventLog

from .conftest import AUTH, ServedWorld
from .server_process import EventSender, free_port, start_server

pytestmark = pytest.mark.slow


def test_acknowledged_events_survive_sigkill(served_world: ServedWorld, tmp_path: Path) -> None:
    log, port = tmp_path / "events.db", free_port()
    server = start_server(served_world, f"sqlite:///{log}", port)
    with EventSender(port) as sender:
        sender.wait_for(500)
        server.send_signal(signal.SIGKILL)  # mid-stream: batches are in flight
        server.wait()
    acknowledged = sender.acknowledged

    restarted = start_server(served_world, f"sqlite:///{log}", port)
    try:
        after = httpx.post(
            f"http://127.0.0.1:{port}/v1/events",
            json=[
                {
                    "event_id": "after",
                    "ts": "2026-03-21T11:00:00Z",
                    "user_id": "u1",
                    "surface": "feed",
                    "item_id": "p1",
                    "action": "like",
                }
            ],
            headers=AUTH,
        )
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)
    assert after.status_code == 202
    stored = SQLiteEventLog(log)
    ids = set(stored.read()["event_id"])
    stored.close()
    missing = set(acknowledged) - ids
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
    assert "after" in ids


def test_the_server_writes_events_in_wal_mode_with_synchronous_full(api, tmp_path: Path) -> None:
    """Read back from the connection the running server appends through: a SIGKILL
    test alone passes with synchronous=OFF too (the OS keeps the file's pages)."""
    with api() as client:
        event_log = client.app.state.runtime.event_log
        assert event_log.durability() == {"journal_mode": "wal", "synchronous": "full"}
    # WAL is recorded in the file itself: any later connection finds it
    with sqlite3.connect(tmp_path / "events.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
