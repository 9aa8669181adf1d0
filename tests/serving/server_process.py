"""A real `circlerank serve` process over the served world, for crash tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter

import httpx

from tests.servers import free_port

from .conftest import TOKEN, ServedWorld

__all__ = ["EventSender", "free_port", "start_server"]


def start_server(
    served_world: ServedWorld, event_log: str, port: int, *flags: str
) -> subprocess.Popen[bytes]:
    """Start the server and wait until /readyz says ready."""
    env = os.environ | {"CIRCLERANK_API_TOKENS": TOKEN, "CIRCLERANK_COMPILE_TREES": "false"}
    command = [sys.executable, "-m", "circlerank.cli.main", "-q", "serve"]
    arguments = ["--data", str(served_world.data), "--models", str(served_world.models)]
    arguments += ["--snapshot", str(served_world.snapshot), "--event-log", event_log, *flags]
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


class EventSender:
    """Threads posting batches of 25 events until stopped, keeping the ids of every
    batch acknowledged with 202 and a count of each status seen."""

    def __init__(self, port: int, threads: int = 2) -> None:
        self.port = port
        self.acknowledged: list[str] = []
        self.statuses: Counter[int] = Counter()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send, args=(t,)) for t in range(threads)]

    def __enter__(self) -> EventSender:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def wait_for(self, acknowledged: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.acknowledged) < acknowledged and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.acknowledged) >= acknowledged, f"only {len(self.acknowledged)} acked"

    def _send(self, thread: int) -> None:
        batch = 0
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=headers) as client:
            while not self._stop.is_set():
                rows = [
                    {
                        "event_id": f"t{thread}-b{batch}-{i}",
                        "ts": "2026-03-21T10:00:00Z",
                        "user_id": "u00001",
                        "surface": "feed",
                        "item_id": "p000001",
                        "action": "click",
                    }
                    for i in range(25)
                ]
                batch += 1
                try:
                    got = client.post("/v1/events", json=rows, timeout=5)
                except httpx.HTTPError:
                    time.sleep(0.05)  # the server is gone: nothing of this batch was acked
                    continue
                self.statuses[got.status_code] += 1
                if got.status_code == 202:
                    self.acknowledged.extend(r["event_id"] for r in rows)
