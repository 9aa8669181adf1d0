"""Request-time ranking cost: one feed request with 1,000 candidates, in process.

Builds a world (10,000 users x 30 days by default), trains, opens the snapshot at the
split, and times Pipeline.run for one user at a time with 1,000 candidates: the default
feed strategy (community) with the `popular_posts` source at k = 1000 for its sources,
so its filters, online-store features, LightGBM heads, re-rankers and page. Prints
p50/p99 over --requests requests after a warm-up, in all and per stage, and offline
`rank` throughput (users/s) of the default feed strategy, in one process and in one
forked worker per core (median of --offline-runs runs each), measured in a fresh
process that loads data, bundle and snapshot as `circlerank rank` does.

    .venv/bin/python benchmarks/rank_latency.py [--users 10000] [--requests 1000]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def offline(world: Path, tmp: Path, split: pd.Timestamp, n: int, runs: int) -> None:
    """Offline `rank` throughput in a process like the CLI's: data, bundle and snapshot
    loaded (nothing trained here), freed memory kept by the allocator, users ranked in
    one process and in one forked worker per core. Prints {workers: [users/s, ...]}."""
    from circlerank.memory import keep_freed_memory
    from features.contract import load_contract
    from ranking.forked import default_workers
    from ranking.replay import Replayer
    from training.bundle import load_bundle

    keep_freed_memory()
    data = load_contract(world, quarantine_dir=tmp / "q_offline")
    bundle = load_bundle(tmp / "models")
    replayer = Replayer(data, bundle, split, feature_dir=tmp / "snapshot", reuse_snapshot=True)
    users = data["users"]["user_id"].to_numpy(dtype=object)[:n]
    rates: dict[int, list[float]] = {}
    for _ in range(runs):
        for workers in sorted({1, default_workers()}):
            replayer.workers = workers
            started = time.perf_counter()
            replayer.rank("feed", users, 10)
            rates.setdefault(workers, []).append(len(users) / (time.perf_counter() - started))
    replayer.close()
    print(json.dumps(rates))


def main() -> None:
    if sys.argv[1:2] == ["--offline"]:
        world, tmp, split, n, runs = sys.argv[2:]
        offline(Path(world), Path(tmp), pd.Timestamp(split), int(n), int(runs))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--world", help="reuse a simulated world directory")
    parser.add_argument("--offline-users", type=int, default=2_000)
    parser.add_argument("--offline-runs", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from circlerank.memory import freeze_heap
    from evaluation.simulator import SimConfig, simulate
    from features.contract import load_contract
    from ranking.for_training import ServingCandidates
    from ranking.pipeline import Pipeline
    from ranking.replay import Replayer
    from ranking.strategy import Strategy, load_strategies
    from training.bundle import load_bundle
    from training.train import train

    with tempfile.TemporaryDirectory() as tmp:
        world = Path(args.world) if args.world else Path(tmp) / "world"
        if not args.world:
            simulate(SimConfig(users=args.users, days=args.days, seed=3), out_dir=world)
        meta = json.loads((world.parent / f"{world.name}_truth" / "meta.json").read_text())
        split = pd.Timestamp(meta["split_time"])
        data = load_contract(world, quarantine_dir=Path(tmp) / "q")
        # saved and loaded back, as the API does: loading compiles the trees
        train(data, ServingCandidates(), until=split).save(Path(tmp) / "models")
        bundle = load_bundle(Path(tmp) / "models")
        predictors = {p.kind for p in bundle.ranker("feed", "heads").predictors.values()}
        replayer = Replayer(data, bundle, split, feature_dir=Path(tmp) / "snapshot")
        # the shipped default (community) with one source of 1,000 candidates
        community = load_strategies().get("community", "feed")
        one_request = Strategy(
            name="latency",
            surface="feed",
            sources=("popular_posts",),
            filters=community.filters,
            scorer=community.scorer,
            rerankers=community.rerankers,
            params={**community.params, "popular_posts": {"k": 1000}},
        )
        pipeline = Pipeline(one_request)
        ctx = replayer.context("feed")
        freeze_heap()  # as the API does once a bundle is loaded (circlerank/memory.py)
        users = data["users"]["user_id"].to_numpy(dtype=object)
        rng = np.random.default_rng(0)
        asked = rng.choice(users, args.requests + 50)
        sizes, times, stages = [], [], []
        for i, user in enumerate(asked):
            started = time.perf_counter()
            result = pipeline.run(ctx, np.array([user], dtype=object), limit=20)
            elapsed = time.perf_counter() - started
            if i >= 50:  # warm-up: first calls fill caches and page in the store
                times.append(elapsed * 1000)
                sizes.append(sum(result.candidates.values()))
                stages.append(result.seconds)
        ms = np.array(times)
        per_stage = pd.DataFrame(stages).fillna(0.0) * 1000
        replayer.close()
        del replayer, ctx, bundle, data
        offline_users = min(args.offline_users, len(users))
        child = [sys.executable, __file__, "--offline", str(world), tmp, str(split)]
        child += [str(offline_users), str(args.offline_runs)]
        done = subprocess.run(child, check=True, capture_output=True, text=True)
        rates = {int(k): v for k, v in json.loads(done.stdout.splitlines()[-1]).items()}
    print(
        f"rank latency: {len(ms):,} single-user feed requests, "
        f"{np.median(sizes):,.0f} candidates each; trees predicted by {', '.join(predictors)}"
    )
    print(
        f"p50 {np.percentile(ms, 50):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms, "
        f"max {ms.max():.2f} ms (target p99 <= 15 ms)"
    )
    print(
        "per stage, ms p50/p99: "
        + ", ".join(
            f"{stage} {np.percentile(v, 50):.2f}/{np.percentile(v, 99):.2f}"
            for stage, v in per_stage.items()
        )
        + f" (re-ranking: {', '.join(one_request.rerankers)}; target p99 <= 2 ms)"
    )
    for workers, runs in rates.items():
        print(
            f"offline rank (default feed strategy), {workers} worker(s): "
            f"{np.median(runs):,.0f} users/s, median of {len(runs)} runs "
            f"({', '.join(f'{r:,.0f}' for r in runs)}) over {offline_users:,} users"
            + (" (target >= 2,000)" if workers == max(rates) else "")
        )


if __name__ == "__main__":
    main()
