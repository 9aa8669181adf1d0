"""Scale-out backends against the embedded defaults, on local servers started from the
system packages (tests/servers.py: Redis and PostgreSQL on loopback, temporary dirs).

Online store: batches of 1,000 user lookups (10% unknown) in a store of --users users
x 64 features, memory-mapped files vs Redis (one MGET a batch): p50/p99 per batch,
median over --runs runs. Event log: sustained appends of --events events in batches of
--batch (each batch one durable transaction, as POST /v1/events does), SQLite (WAL,
synchronous=FULL) vs PostgreSQL (synchronous_commit on): events/s, median of --runs.

    .venv/bin/python benchmarks/backends.py [--users 200000] [--events 100000] [--runs 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.online_store import AS_OF, make_tables, user_batches  # noqa: E402
from circlerank.local_servers import LocalPostgres, LocalRedis  # noqa: E402
from features.store import (  # noqa: E402
    OnlineStore,
    OnlineStoreReader,
    RedisOnlineStore,
    build_online_store,
    load_into_redis,
)
from serving.eventlog import LoggedEvent, open_event_log  # noqa: E402


def lookup_ms(store: OnlineStoreReader, batches: list[np.ndarray]) -> np.ndarray:
    times = []
    for ids in batches:
        started = time.perf_counter()
        store.lookup("users", ids)
        times.append((time.perf_counter() - started) * 1000)
    return np.array(times)


def events(count: int, run: int) -> list[LoggedEvent]:
    ts = pd.Timestamp("2026-06-01T00:00:00Z")
    return [
        LoggedEvent(
            event_id=f"r{run}-e{i}",
            ts=ts,
            user_id=f"u{i % 5000}",
            surface="feed",
            item_id=f"p{i % 20000}",
            action="impression",
            origin="served",
            request_id=f"q{i // 20}",
            position=i % 20,
            propensity=1.0,
            arm="control",
            strategy="community",
            model_version="v1",
            score=0.5,
        )
        for i in range(count)
    ]


def append_rate(url: str, count: int, batch: int, runs: int) -> float:
    rates = []
    for run in range(runs):
        log = open_event_log(url)
        rows = events(count, run)
        started = time.perf_counter()
        for start in range(0, count, batch):
            log.append(rows[start : start + batch])
        rates.append(count / (time.perf_counter() - started))
        log.close()
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--batches", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    redis, postgres = LocalRedis(), LocalPostgres()
    redis.start()
    postgres.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tables = make_tables(args.users, args.users)
            build_online_store(
                Path(tmp) / "store",
                tables,
                {"users": ["user_id"], "user_circle": ["user_id", "circle_id"]},
                as_of=AS_OF,
            )
            files = OnlineStore.open(Path(tmp) / "store")
            started = time.perf_counter()
            load_into_redis(files, redis.url)
            loaded = time.perf_counter() - started
            stores: dict[str, OnlineStoreReader] = {
                "file": files,
                "redis": RedisOnlineStore.open(redis.url),
            }
            rng = np.random.default_rng(0)
            print(
                f"online store: {args.users:,} users x 64 features, batches of 1,000 users "
                f"(10% unknown); Redis loaded in {loaded:.1f} s"
            )
            for name, store in stores.items():
                lookup_ms(store, user_batches(args.users, 50, rng))  # warm-up
                runs = [
                    lookup_ms(store, user_batches(args.users, args.batches, rng))
                    for _ in range(args.runs)
                ]
                p50 = statistics.median(float(np.percentile(r, 50)) for r in runs)
                p99 = statistics.median(float(np.percentile(r, 99)) for r in runs)
                print(f"  {name:6s} p50 {p50:.3f} ms, p99 {p99:.3f} ms")
            stores["redis"].close()

            print(
                f"event log: {args.events:,} events in batches of {args.batch}, "
                "one durable transaction a batch"
            )
            urls = {"sqlite": f"sqlite:///{Path(tmp) / 'events.db'}", "postgresql": postgres.url}
            for name, url in urls.items():
                rate = append_rate(url, args.events, args.batch, args.runs)
                print(f"  {name:10s} {rate:,.0f} events/s")
    finally:
        redis.close()
        postgres.close()


if __name__ == "__main__":
    main()
