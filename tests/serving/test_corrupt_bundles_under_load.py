"""Issue 31, gap 8: under steady traffic to a real two-worker server, MODELS/current is
pointed at damaged copies of the serving bundle (every kind of artifact truncated,
emptied and garbled, and two damages whose digests were recomputed so that only the
probe process can catch them, one of which kills LightGBM's parser). No request fails,
the old bundle serves every one, no worker dies; and a worker restarted while current is
bad serves the last good bundle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, wait_for
from training.bundle import point_current

from .bundles import DAMAGES, add_item_models, copy_bundle, crashing_bundle, damage, redigest
from .conftest import TOKEN, ServedWorld

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")

# one file of every kind of artifact a bundle holds
ARTIFACTS = {
    "lightgbm-head": "feed/heads/click.txt",
    "lightgbm-lambdarank": "circle_suggestions/lambdarank/lambdarank.txt",
    "logistic": "feed/logistic/logistic.json",
    "als-factors": "feed/als/user_factors.npy",
    "faiss-index": "feed/als/items.faiss",
    "knn": "circle_suggestions/knn/members.npz",
    "ease": "circle_suggestions/ease/similar.npy",
    "manifest": "manifest.json",
}
ROUTES = ("/v1/feed", "/v1/circles/suggestions")


class Traffic:
    """Client threads asking for feeds and suggestions until stopped, keeping each
    outcome: (status, model version) or the error."""

    def __init__(self, port: int, users: list[str], threads: int = 3) -> None:
        self.port, self.users, self.threads = port, users, threads
        self.outcomes: list[tuple[int | str, str | None]] = []
        self._stop = threading.Event()
        self._running: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        self._running = [threading.Thread(target=self._ask, args=(t,)) for t in range(self.threads)]
        for thread in self._running:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._running:
            thread.join()

    def _ask(self, thread: int) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port}", headers=headers) as client:
            i = thread
            while not self._stop.is_set():
                params = {"user_id": self.users[i % len(self.users)], "limit": 5}
                try:
                    got = client.get(ROUTES[i % 2], params=params, timeout=30)
                    version = got.json().get("model_version") if got.status_code == 200 else None
                    self.outcomes.append((got.status_code, version))
                except httpx.HTTPError as exc:
                    self.outcomes.append((f"{type(exc).__name__}: {exc}", None))
                i += self.threads


@contextmanager
def serving(world: ServedWorld, models: Path, log: Path, port: int) -> Iterator[subprocess.Popen]:
    """`circlerank serve --workers 2` over `models`, its stderr in `log`, polling
    MODELS/current every 0.2 s; waits until /readyz answers 200."""
    env = os.environ | {
        "CIRCLERANK_API_TOKENS": TOKEN,
        "CIRCLERANK_COMPILE_TREES": "false",
        "CIRCLERANK_RELOAD_POLL_S": "0.2",
    }
    command = [sys.executable, "-m", "circlerank.cli.main", "-q", "serve", "--workers", "2"]
    command += ["--data", str(world.data), "--models", str(models), "--port", str(port)]
    command += ["--snapshot", str(world.snapshot), "--event-log", f"sqlite:///{log}.db"]
    with log.open("wb") as stderr:
        server = subprocess.Popen(command, env=env, stderr=stderr)
    try:
        assert wait_for(lambda: _ready(port) or server.poll() is not None, 180, 0.2)
        assert server.poll() is None, log.read_text()
        yield server
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _workers(server: subprocess.Popen) -> set[int]:
    """The uvicorn worker processes (children of the server, bar multiprocessing's
    resource tracker)."""
    listed = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    workers = set()
    for pid in listed:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"resource_tracker" not in command:
            workers.add(int(pid))
    return workers


def _count(log: Path, text: str) -> int:
    return log.read_text(errors="replace").count(text)


def _refused_by_both_workers(log: Path, bundle: Path, times: int = 2) -> None:
    line = f"refused model bundle {bundle.resolve()} "
    assert wait_for(lambda: _count(log, line) >= times, 120, 0.1), (
        f"{bundle.name} was not refused {times} times:\n{log.read_text()[-3000:]}"
    )


def _damaged_bundles(models: Path, base: Path) -> Iterator[Path]:
    """Copies of `base`: each artifact kind truncated, emptied, garbled; then damages the
    digests cannot see (recomputed after): a garbled faiss index, a LightGBM head cut to
    a third (its parser kills the process that reads it). The last stays current."""
    n = 0
    for kind, relative in ARTIFACTS.items():
        for how in DAMAGES:
            n += 1
            bundle = copy_bundle(models, f"20990101T{n:06d}-{kind}-{how}", base)
            damage(bundle / relative, how)
            yield bundle
    faiss = copy_bundle(models, f"20990101T{n + 1:06d}-faiss-index-redigested", base)
    damage(faiss / "feed" / "als" / "items.faiss", "garbled")
    redigest(faiss)
    yield faiss
    yield crashing_bundle(models, f"20990101T{n + 2:06d}-lightgbm-crash", base)


def _served_only(traffic: Traffic, version: str) -> None:
    failed = [o for o in traffic.outcomes if o != (200, version)]
    assert len(traffic.outcomes) >= 30, f"too little traffic: {len(traffic.outcomes)}"
    assert not failed, (
        f"{len(failed)} of {len(traffic.outcomes)} not served by {version}: {failed[:5]}"
    )


def test_damaged_bundles_under_load_never_fail_a_request(
    served_world: ServedWorld, fresh_models: Path, tmp_path: Path
) -> None:
    base = copy_bundle(fresh_models, "20990101T000000-base")
    add_item_models(base, served_world.data)  # so that every kind of artifact is there
    point_current(fresh_models, base.name)
    log, port = tmp_path / "server.log", free_port()
    traffic = Traffic(port, served_world.users[:50])
    with serving(served_world, fresh_models, log, port) as server:
        workers = _workers(server)
        assert len(workers) == 2
        traffic.start()
        try:
            for bundle in _damaged_bundles(fresh_models, base):
                point_current(fresh_models, bundle.name)
                _refused_by_both_workers(log, bundle)
        finally:
            traffic.stop()
        _served_only(traffic, base.name)
        assert _workers(server) == workers, "a worker died"
        probe_crashes = _count(log, "probe process was killed by SIG")
        assert probe_crashes >= 2, "both workers' probes of the crashing bundle died"
        assert _count(log, "refused model bundle") >= 2 * (len(ARTIFACTS) * len(DAMAGES) + 2)

        # a worker that restarts while current is the crashing bundle
        crash = (fresh_models / "current").resolve()
        os.kill(next(iter(workers)), signal.SIGKILL)
        assert wait_for(lambda: len(_workers(server)) == 2 and _workers(server) != workers, 60)
        _refused_by_both_workers(log, crash, times=3)  # by the new worker too
        assert wait_for(lambda: _count(log, "serving the last good bundle") == 1, 120, 0.1)
        restarted = Traffic(port, served_world.users[:50])
        restarted.start()
        try:
            assert wait_for(lambda: len(restarted.outcomes) >= 60, 120, 0.05)
        finally:
            restarted.stop()
        _served_only(restarted, base.name)
        for _ in range(6):  # fresh connections, either worker
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
            assert ready.status_code == 200 and ready.json()["model_version"] == base.name
            assert ready.json()["reload_refused"]["bundle"] == str(crash)
