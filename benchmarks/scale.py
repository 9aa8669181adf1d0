"""Features + training at 1x and 4x size, pandas vs Dask (LocalCluster, 2 workers).

For each scale a world is simulated (--users x scale users, --days days, seed 0) and
`train` runs on it once per engine, each in a fresh process: point-in-time features of
every logged impression, the LightGBM heads and LambdaRank (on the cluster with the
dask engine), logistic regression, ALS and source recall. Printed per run: wall time,
peak RSS of the driver and of each Dask worker, and the LightGBM rankers' validation
metrics, with the Dask run's difference from the pandas run (target: within 1%) and
the growth of wall time from 1x to 4x.

    .venv/bin/python benchmarks/scale.py [--users 5000] [--days 30] [--scales 1 4]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

ENGINES = ("pandas", "dask")
# (surface, ranker) -> validation metrics compared between engines
METRICS = {
    ("feed", "heads"): ("click_logloss", "click_auc"),
    ("feed", "lambdarank"): ("ndcg@10",),
    ("circle_suggestions", "heads"): ("join_logloss",),
    ("circle_suggestions", "lambdarank"): ("ndcg@5",),
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_run(engine_name: str, world: Path, until: str, out: Path) -> None:
    """In this process: train on `world` with the engine and write what was measured."""
    import pandas as pd

    from features.contract import load_contract
    from features.engine import make_engine
    from ranking.for_training import ServingCandidates
    from training.train import train

    started = time.perf_counter()
    data = load_contract(world)
    engine = make_engine(engine_name)
    try:
        bundle = train(data, ServingCandidates(), until=pd.Timestamp(until), engine=engine)
        wall = time.perf_counter() - started
        workers: list[float] = []
        client = getattr(engine, "client", None)
        if client is not None:
            workers = sorted(client.run(peak_rss_mb).values())
    finally:
        engine.close()
    metrics = bundle.manifest["metrics"]
    found = {
        f"{surface}/{name}": metrics[surface][ranker][name]
        for (surface, ranker), names in METRICS.items()
        for name in names
        if name in metrics.get(surface, {}).get(ranker, {})
    }
    rows = {s: r["train"] + r["valid"] for s, r in bundle.manifest["rows"].items()}
    result = {"wall_s": wall, "driver_mb": peak_rss_mb(), "workers_mb": workers}
    out.write_text(json.dumps({**result, "metrics": found, "rows": rows}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--one", nargs=4, metavar=("ENGINE", "WORLD", "UNTIL", "OUT"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.one:
        engine, world, until, out = args.one
        one_run(engine, Path(world), until, Path(out))
        return

    from evaluation.simulator import SimConfig, simulate

    results: dict[tuple[int, str], dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scale in args.scales:
            users = args.users * scale
            world = simulate(
                SimConfig(users=users, days=args.days, seed=0), out_dir=Path(tmp) / f"w{scale}"
            )
            for engine in args.engines:
                out = Path(tmp) / f"{scale}-{engine}.json"
                command = [sys.executable, __file__, "--one", engine, str(world.out_dir)]
                subprocess.run([*command, world.split_time.isoformat(), str(out)], check=True)
                results[(scale, engine)] = json.loads(out.read_text())
                got = results[(scale, engine)]
                print(
                    f"{scale}x ({users:,} users, {sum(got['rows'].values()):,} training rows) "
                    f"{engine:6s}: {got['wall_s']:.1f} s, driver {got['driver_mb']:,.0f} MB"
                    + (
                        ", workers " + " / ".join(f"{w:,.0f}" for w in got["workers_mb"]) + " MB"
                        if got["workers_mb"]
                        else ""
                    )
                    + "; "
                    + ", ".join(f"{k} {v:.5f}" for k, v in got["metrics"].items()),
                    flush=True,
                )
    print("\nDask against pandas (validation metrics of the LightGBM rankers; target within 1%):")
    for scale in args.scales:
        if (scale, "pandas") in results and (scale, "dask") in results:
            a, b = results[(scale, "pandas")]["metrics"], results[(scale, "dask")]["metrics"]
            diffs = {k: abs(b[k] - a[k]) / abs(a[k]) for k in a if k in b and a[k]}
            print(
                f"  {scale}x: "
                + ", ".join(f"{k} {100 * d:.2f}%" for k, d in diffs.items())
                + f" (largest {100 * max(diffs.values()):.2f}%)"
            )
    if len(args.scales) >= 2:
        low, high = min(args.scales), max(args.scales)
        for engine in args.engines:
            if (low, engine) in results and (high, engine) in results:
                ratio = results[(high, engine)]["wall_s"] / results[(low, engine)]["wall_s"]
                print(f"growth {low}x -> {high}x, {engine}: x{ratio:.2f} wall time")


if __name__ == "__main__":
    main()
