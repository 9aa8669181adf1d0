"""API under load: `circlerank serve --workers 2` on loopback, driven at a fixed rate.

Builds (or reuses) a world of 10,000 users x 30 days and its models, starts the server
with 2 workers and a strategy whose sources return about 1,000 candidates per request
(the shipped `community` pipeline fed by `popular_posts` at k = 1000), then sends
GET /v1/feed at 100 and 200 requests/s, open loop: each request is due at a fixed time
and its latency counts from then, so a slow server cannot slow the load down and hide
its queue. Prints p50/p99, errors and the server's CPU per request (all its processes:
the 2 cores saturate near 2,000 ms over it, whatever the machine's speed) and the
busier worker's part of the two workers' CPU (50% = balanced) per rate (median of
--repeats runs), the same for GET /healthz at 200/s as the HTTP floor
measured in the same run, and the server's RSS (all its processes) before and after a
--soak seconds run at --soak-rate (200/s).
`--online-store redis` and `--event-log postgresql` run the server on those backends
(local servers started from the system packages, as the tests do).

    .venv/bin/python benchmarks/serve_load.py [--world DIR --models DIR] [--seconds 20]
        [--repeats 3] [--soak 120] [--online-store file|redis] [--event-log sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from circlerank.local_servers import LocalPostgres, LocalRedis, free_port  # noqa: E402

TOKEN = "load-test-token"
CONNECTIONS = 64


class Connection:
    """One keep-alive HTTP/1.1 connection: a minimal client, so the load generator
    costs little CPU next to the server it measures on the same two cores."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length, closing = 0, False
        for line in head.lower().split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
            elif line.startswith(b"connection:"):
                closing = b"close" in line
        await self.reader.readexactly(length)
        if closing:  # the server's keep-alive cap: the next request connects again
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def drive(port: int, paths: list[str], rate: float) -> tuple[np.ndarray, int]:
    """Send paths[i] at start + i / rate; latencies (ms, from the due time) and errors."""
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        idle.put_nowait(Connection(port))
    latencies = np.full(len(paths), np.nan)
    errors = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int) -> None:
        nonlocal errors
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        connection = await idle.get()
        try:
            status = await connection.get(paths[i])
            if status != 200:
                errors += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            connection.close()
        finally:
            latencies[i] = (loop.time() - due) * 1000
            idle.put_nowait(connection)

    await asyncio.gather(*(one(i) for i in range(len(paths))))
    while not idle.empty():
        idle.get_nowait().close()
    return latencies, errors


def _processes(pid: int) -> list:  # psutil.Process of the server and its workers
    import psutil

    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _rss_mb(pid: int) -> float:
    return sum(p.memory_info().rss for p in _processes(pid)) / 2**20


def _cpu_s(pid: int) -> dict[int, float]:
    """User + system CPU seconds each of the server's processes has used so far."""
    return {p.pid: sum(p.cpu_times()[:2]) for p in _processes(pid)}


def _strategies(path: Path) -> None:
    """The shipped strategies plus `load1000`: community's pipeline on 1,000 popular posts."""
    from ranking.strategy import SHIPPED

    load1000 = """
[strategies.load1000]
like = "community"
sources = ["popular_posts"]
fallback = []
params = { popular_posts = { k = 1000 } }
"""
    path.write_text(SHIPPED.read_text() + load1000)


def _world(args: argparse.Namespace, tmp: Path) -> tuple[Path, Path]:
    if args.world and args.models:
        return Path(args.world), Path(args.models)
    world, models = tmp / "world", tmp / "models"
    env = os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cli = [sys.executable, "-m", "circlerank.cli.main", "-q"]
    subprocess.run(
        [*cli, "simulate", "--out", str(world), "--users", "10000", "--days", "30", "--seed", "3"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    split = json.loads((tmp / "world_truth" / "meta.json").read_text())["split_time"]
    subprocess.run(
        [*cli, "train", "--data", str(world), "--out", str(models), "--until", split],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    return world, models


def _summary(latencies: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world")
    parser.add_argument("--models")
    parser.add_argument("--seconds", type=float, default=20.0, help="per rate and run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--soak", type=float, default=120.0, help="RSS run length (s)")
    parser.add_argument("--rates", default="25,50,100,200", help="feed rates (req/s)")
    parser.add_argument("--soak-rate", type=float, default=200.0)
    parser.add_argument("--online-store", choices=("file", "redis"), default="file")
    parser.add_argument("--event-log", choices=("sqlite", "postgresql"), default="sqlite")
    return parser.parse_args()


# --- set-up ---------------------------------------------------------------------------


def _backends(args: argparse.Namespace, tmp: Path, servers: contextlib.ExitStack) -> list[str]:
    """`serve`'s flags for the chosen event log and online store, local servers started."""
    backends: list[str] = ["--event-log", f"sqlite:///{tmp / 'events.db'}"]
    if args.event_log == "postgresql":
        postgres = LocalPostgres()
        postgres.start()
        servers.callback(postgres.close)
        backends = ["--event-log", postgres.url]
    if args.online_store == "redis":
        redis = LocalRedis()
        redis.start()
        servers.callback(redis.close)
        backends += ["--online-store", redis.url]
    return backends


def _start_server(world: Path, models: Path, tmp: Path, backends: list[str]) -> Server:
    """`circlerank serve` with 2 workers in a child process, once /readyz answers 200."""
    strategies = tmp / "strategies.toml"
    _strategies(strategies)
    port = free_port()
    env = os.environ | {
        "CIRCLERANK_API_TOKENS": TOKEN,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    command = [
        sys.executable, "-m", "circlerank.cli.main", "-q", "serve",
        "--data", str(world), "--models", str(models), "--workers", "2",
        "--port", str(port), "--strategies", str(strategies), *backends,
        "--snapshot", str(tmp / "snapshot"),
    ]  # fmt: skip
    server = Server(subprocess.Popen(command, env=env), port)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    return server


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


# --- measure --------------------------------------------------------------------------


@dataclass
class Load:
    """Open-loop load of feed requests for random users against one server."""

    server: Server
    users: np.ndarray
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    def feed_paths(self, n: int) -> list[str]:
        chosen = self.rng.choice(self.users, n)
        return [f"/v1/feed?user_id={u}&limit=20&strategy=load1000" for u in chosen]

    def measure(self, paths: list[str], rate: float) -> Run:
        """p50 and p99 (ms), errors, server CPU ms per request of one run, and the busier
        worker's part of the workers' CPU (the load's balance)."""
        pid = self.server.process.pid
        cpu = _cpu_s(pid)
        latencies, errors = asyncio.run(drive(self.server.port, paths, rate))
        used = {p: s - cpu.get(p, 0.0) for p, s in _cpu_s(pid).items()}
        cpu_ms = sum(used.values()) * 1000 / len(latencies)
        workers = [s for p, s in used.items() if p != pid]
        busier = max(workers) / sum(workers) if sum(workers) > 0 else float("nan")
        return (*_summary(latencies), errors, cpu_ms, busier)


Run = tuple[float, float, int, float, float]  # p50, p99, errors, CPU ms/request, busier


def _rate_runs(load: Load, args: argparse.Namespace) -> list[tuple[str, float, list[Run]]]:
    """Every feed rate, then /healthz at 200/s (the floor), each `--repeats` times."""
    rows = []
    for rate in [float(r) for r in args.rates.split(",")]:
        paths = [load.feed_paths(int(rate * args.seconds)) for _ in range(args.repeats)]
        rows.append(("/v1/feed", rate, [load.measure(p, rate) for p in paths]))
    health = [f"/healthz?{i}" for i in range(int(200 * args.seconds))]
    rows.append(("/healthz", 200.0, [load.measure(health, 200.0) for _ in range(args.repeats)]))
    return rows


# --- report ---------------------------------------------------------------------------


def _print_rates(rows: list[tuple[str, float, list[Run]]], args: argparse.Namespace) -> None:
    # server CPU per request says where a rate saturates the 2 cores on this machine,
    # whatever its speed: about 2,000 ms/s of CPU over the rate
    print(
        f"\n{'route':<10} {'req/s':>6} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
        f" {'CPU ms/req':>11} {'busier':>7}"
        f"  (median of {args.repeats} runs of {args.seconds:.0f} s; p99 per run)"
    )
    for route, rate, runs in rows:
        p50 = float(np.median([r[0] for r in runs]))
        p99 = float(np.median([r[1] for r in runs]))
        errors = sum(r[2] for r in runs)
        cpu = float(np.median([r[3] for r in runs]))
        busier = float(np.median([r[4] for r in runs]))
        each = ", ".join(f"{r[1]:.1f}" for r in runs)
        print(
            f"{route:<10} {rate:>6.0f} {p50:>8.1f} {p99:>8.1f} {errors:>7} {cpu:>11.2f}"
            f" {busier:>7.1%}  [{each}]"
        )
    floor_p99 = float(np.median([r[1] for r in rows[-1][2]]))
    for route, rate, runs in rows[:-1]:
        ratio = float(np.median([r[1] for r in runs])) / floor_p99
        print(f"p99 {route} at {rate:.0f}/s over p99 /healthz at 200/s: {ratio:.1f}x")


def _soak(load: Load, args: argparse.Namespace) -> None:
    """A long run at the soak rate: latency and the server's RSS before and after."""
    pid, port = load.server.process.pid, load.server.port
    before = _rss_mb(pid)
    soak = load.feed_paths(int(args.soak_rate * args.soak))
    latencies, errors = asyncio.run(drive(port, soak, args.soak_rate))
    after = _rss_mb(pid)
    p50, p99 = _summary(latencies)
    print(
        f"\nsoak {args.soak:.0f} s at {args.soak_rate:.0f}/s: p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms, errors {errors}; RSS {before:,.0f} MB -> {after:,.0f} MB "
        f"({(after / before - 1) * 100:+.1f}%)"
    )
    metrics = httpx.get(f"{load.server.url}/metrics").text
    served = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("circlerank_requests_total{")
        and 'route="/v1/feed"' in line
        and 'status="200"' in line
    )
    print(f"/metrics (both workers): {served:,.0f} feed requests answered 200")


def main() -> None:
    args = _arguments()
    with tempfile.TemporaryDirectory() as tmp_name, contextlib.ExitStack() as servers:
        tmp = Path(tmp_name)
        backends = _backends(args, tmp, servers)
        world, models = _world(args, tmp)
        users = pd.read_parquet(world / "users.parquet")["user_id"].to_numpy()
        server = _start_server(world, models, tmp, backends)
        try:
            load = Load(server, users)
            asyncio.run(drive(server.port, load.feed_paths(400), 50.0))  # warm-up: caches
            check = httpx.get(
                f"{server.url}/v1/feed",
                params={"user_id": str(users[0]), "strategy": "load1000"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            ).json()
            print(
                f"server: 2 workers, bundle {check['model_version']}, strategy load1000, "
                f"online store {args.online_store}, event log {args.event_log}"
            )
            _print_rates(_rate_runs(load, args), args)
            _soak(load, args)
        finally:
            server.stop()
            shutil.rmtree(tmp / "snapshot", ignore_errors=True)


if __name__ == "__main__":
    main()
