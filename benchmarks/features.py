"""Feature pipeline cost: point-in-time training features for every logged impression
plus a serving snapshot, on simulated worlds at 1x (10,000 users x 60 days: about
1,000,000 payments and 1,000,000 events) and 4x, with pandas and with Dask (a
LocalCluster of 2 workers). Also the online store's lookup latency for 1,000 users.

Each run is a fresh process, so peak RSS is that run's own; Dask workers report theirs.
Prints medians over --runs and the 4x/1x growth of time, taken within each round
(every scale back to back) because this VM's speed drifts over minutes.

    .venv/bin/python benchmarks/features.py [--scales 1,4] [--runs 3] [--engines pandas,dask]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# this file is named like the `features` package: keep its folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

BASE_USERS = 10_000
DAYS = 60


def workload(data_dir: str, out_dir: str, engine_name: str) -> dict[str, float]:
    """One measured run: load, training features for both surfaces, snapshot."""
    import logging
    import resource

    logging.disable(logging.INFO)
    from features.compute import FeatureBuilder
    from features.contract import load_contract
    from features.engine import make_engine
    from features.materialize import write_snapshot
    from features.training_rows import logged_impressions

    started = time.perf_counter()
    data = load_contract(data_dir, quarantine_dir=f"{out_dir}/q")
    loaded = time.perf_counter()
    engine = make_engine(engine_name)
    rows = 0
    try:
        builder = FeatureBuilder(data, engine=engine)
        for surface in ("feed", "circle_suggestions"):
            impressions = logged_impressions(data, surface)
            rows += len(builder.for_requests(impressions, surface))
        trained = time.perf_counter()
        split = data["events"]["ts"].max()
        write_snapshot(builder, out_dir, split)
        done = time.perf_counter()
        workers: list[float] = []
        if engine_name == "dask":
            peaks = engine.client.run(  # type: ignore[attr-defined]
                lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            )
            workers = list(peaks.values())
    finally:
        engine.close()
    return {
        "load_s": loaded - started,
        "training_s": trained - loaded,
        "snapshot_s": done - trained,
        "total_s": done - started,
        "rows": rows,
        "payments": len(data["payments"]),
        "events": len(data["events"]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_rss_mb": max(workers) if workers else 0.0,
    }


def lookup_latency(feature_dir: str, batches: int = 1000, runs: int = 5) -> dict[str, float]:
    """ms per lookup of 1,000 random users' feature rows: p50 and p99 of each run of
    `batches` lookups, median over the runs after the first (which maps cold pages)."""
    import pandas as pd

    from features.materialize import ONLINE
    from features.store import OnlineStore

    store = OnlineStore.open(Path(feature_dir) / ONLINE)
    users = pd.read_parquet(Path(feature_dir) / "offline" / "user.parquet")["user_id"]
    rng = np.random.default_rng(0)
    # ids arrive as a Python list of str, as a server has them after parsing a request
    requests = [rng.choice(users.to_numpy(dtype=object), 1000).tolist() for _ in range(batches)]
    p50s, p99s = [], []
    for _ in range(runs + 1):
        times = np.empty(len(requests))
        for i, ids in enumerate(requests):
            started = time.perf_counter()
            store.lookup("user", ids)
            times[i] = time.perf_counter() - started
        p50s.append(float(np.percentile(times, 50)) * 1000)
        p99s.append(float(np.percentile(times, 99)) * 1000)
    return {
        "p50_ms": statistics.median(p50s[1:]),
        "p99_ms": statistics.median(p99s[1:]),
        "cold_p99_ms": p99s[0],
        "columns": len(store.columns("user")),
    }


def run_child(data_dir: Path, out_dir: Path, engine: str) -> dict[str, float]:
    """One workload in a fresh interpreter, so its peak RSS is its own."""
    command = [sys.executable, __file__, "--child", str(data_dir), str(out_dir), engine]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,4")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="pandas,dask")
    parser.add_argument(
        "--child", nargs=3, metavar=("DATA", "OUT", "ENGINE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        from circlerank.memory import keep_freed_memory

        keep_freed_memory()  # as the `circlerank` command does for every batch job
        print(json.dumps(workload(*args.child)))
        return
    scales = [int(s) for s in args.scales.split(",")]
    engines = args.engines.split(",")
    from evaluation.simulator import SimConfig, simulate

    results: dict[tuple[int, str], dict[str, float]] = {}
    # paired growth ratios: this VM's speed drifts by 20-30% over minutes, so each
    # round runs every scale back to back and the ratio is taken within the round
    growths: dict[str, list[float]] = {engine: [] for engine in engines}
    latency: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        worlds = {scale: Path(tmp) / f"world{scale}" for scale in scales}
        for scale, world in worlds.items():
            simulate(SimConfig(users=BASE_USERS * scale, days=DAYS, seed=0), out_dir=world)
        for engine in engines:
            runs: dict[int, list[dict[str, float]]] = {scale: [] for scale in scales}
            for i in range(args.runs):
                for scale, world in worlds.items():
                    out = Path(tmp) / f"feat{scale}{engine}{i}"
                    runs[scale].append(run_child(world, out, engine))
                    took = runs[scale][-1]["total_s"]
                    print(f"  run {i + 1}: {scale}x {engine}: {took:.1f}s", file=sys.stderr)
                totals = [runs[scale][-1]["total_s"] for scale in (scales[0], scales[-1])]
                growths[engine].append(totals[1] / totals[0])
            for scale in scales:
                med = {k: statistics.median(r[k] for r in runs[scale]) for k in runs[scale][0]}
                med["min_total_s"] = min(r["total_s"] for r in runs[scale])
                med["max_total_s"] = max(r["total_s"] for r in runs[scale])
                results[(scale, engine)] = med
        latency = lookup_latency(str(Path(tmp) / f"feat{scales[0]}{engines[0]}0"))

    print(
        f"features benchmark: {BASE_USERS:,} users x {DAYS} days per 1x; median of {args.runs} runs"
    )
    names = ["payments", "events", "rows", "load s", "train s", "snap s", "total s"]
    widths = [10, 10, 10, 8, 9, 8, 9]
    header = "".join(f"{n:>{w}}" for n, w in zip(names, widths, strict=True))
    print(f"{'scale':>5} {'engine':<7}{header}{'range s':>13}{'peak MB':>9}{'worker MB':>10}")
    for (scale, engine), r in results.items():
        print(
            f"{scale:>4}x {engine:<7}"
            f"{r['payments']:>10,.0f}{r['events']:>10,.0f}{r['rows']:>10,.0f}"
            f"{r['load_s']:>8.1f}{r['training_s']:>9.1f}{r['snapshot_s']:>8.1f}{r['total_s']:>9.1f}"
            f"{r['min_total_s']:>6.1f}-{r['max_total_s']:<6.1f}"
            f"{r['peak_rss_mb']:>9.0f}{r['worker_peak_rss_mb']:>10.0f}"
        )
    if len(scales) > 1:
        for engine in engines:
            lo, hi = results[(scales[0], engine)], results[(scales[-1], engine)]
            paired = ", ".join(f"{g:.2f}" for g in growths[engine])
            print(
                f"growth {scales[0]}x -> {scales[-1]}x ({engine}): "
                f"x{statistics.median(growths[engine]):.2f} median of rounds ({paired}); "
                f"ratio of medians x{hi['total_s'] / lo['total_s']:.2f} (target <= 4.4)"
            )
    if latency:
        p50, p99, cold = latency["p50_ms"], latency["p99_ms"], latency["cold_p99_ms"]
        print(
            f"online store, 1,000 users x {latency['columns']:.0f} features a lookup: "
            f"p50 {p50:.3f} ms, p99 {p99:.3f} ms (median of 5 warm runs of 1,000; "
            f"first run p99 {cold:.3f} ms; target p99 <= 1)"
        )
    print("targets at 1x (pandas): <= 60 s and <= 4,096 MB peak")


if __name__ == "__main__":
    main()
