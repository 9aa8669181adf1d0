"""Every event acknowledged with 202 survives a SIGKILL of the server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from serving.eventlog import SQLiteEventLog

from .conftest import AUTH, TOKEN, ServedWorld

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(served_world: ServedWorld, log: Path, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"CIRCLERANK_API_TOKENS": TOKEN, "CIRCLERANK_COMPILE_TREES": "false"}
    command = [sys.executable, "-m", "circlerank.cli.main", "-q", "serve"]
    arguments = ["--data", str(served_world.data), "--models", str(served_world.models)]
    arguments += ["--snapshot", str(served_world.snapshot), "--event-log", f"sqlite:///{log}"]
    server = subprocess.Popen([*command, *arguments, "--port", str(port)], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        assert server.poll() is None, "the server exited during start-up"
        time.sleep(0.2)
    server.kill()
    raise AssertionError("the server did not become ready in 120 s")


def test_acknowledged_events_survive_sigkill(served_world: ServedWorld, tmp_path: Path) -> None:
    log, port = tmp_path / "events.db", _free_port()
    server = _start(served_world, log, port)
    acknowledged: list[str] = []
    stop = threading.Event()

    def send() -> None:
        batch = 0
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH) as client:
            while not stop.is_set():
                rows = [
                    {
                        "event_id": f"b{batch}-{i}",
                        "ts": "2026-03-21T10:00:00Z",
                        "user_id": "u00001",
                        "surface": "feed",
                        "item_id": "p000001",
                        "action": "click",
                    }
                    for i in range(25)
                ]
                try:
                    got = client.post("/v1/events", json=rows, timeout=5)
                except httpx.HTTPError:
                    return  # the server is gone: nothing from this batch was acknowledged
                if got.status_code == 202:
                    acknowledged.extend(r["event_id"] for r in rows)
                batch += 1

    senders = [threading.Thread(target=send) for _ in range(2)]
    for t in senders:
        t.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 500 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.send_signal(signal.SIGKILL)  # mid-stream: batches are in flight
    server.wait()
    stop.set()
    for t in senders:
        t.join()
    assert len(acknowledged) >= 500

    restarted = _start(served_world, log, port)
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
