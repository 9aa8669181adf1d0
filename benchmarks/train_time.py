"""`circlerank train` wall time and peak memory on a world of about a million events,
model selection included (the capacity search, every contender, the stack).

Simulates a world (10,500 users x 60 days, seed 0: about 1.0M events) unless --world is
given, then runs the README's command `circlerank train --data W --out M --until SPLIT`
--repeats times, each in a fresh process under the same interpreter, and prints each
run's wall time and peak RSS (of the process and its children), their medians, and the
time each stage took in the last run (from train's own progress lines). Target: <= 240 s.

    .venv/bin/python benchmarks/train_time.py [--world DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

STAGE = re.compile(r"^\d\d:\d\d:\d\d (?P<what>.+) done in (?P<s>[\d.]+)s$")


def run_once(world: Path, out: Path, split: str) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB of the child, and its stderr."""
    command = [sys.executable, "-m", "circlerank.cli.main", "train"]
    command += ["--data", str(world), "--out", str(out), "--until", split]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"train failed ({done.returncode}):\n{done.stderr[-3000:]}")
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return wall, peak, done.stderr


def slow_stages(stderr: str, top: int = 12) -> list[tuple[str, float]]:
    stages = []
    for line in stderr.splitlines():
        found = STAGE.match(line.strip())
        if found and not found["what"].startswith(("view ", "features: ", "validating ")):
            stages.append((found["what"], float(found["s"])))
    return sorted(stages, key=lambda s: -s[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", help="a simulated world (its _truth directory beside)")
    parser.add_argument("--users", type=int, default=10_500)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        world = Path(args.world) if args.world else Path(tmp) / "world"
        if not args.world:
            from evaluation.simulator import SimConfig, simulate

            simulate(SimConfig(users=args.users, days=args.days, seed=0), out_dir=world)
        meta = json.loads((world.parent / f"{world.name}_truth" / "meta.json").read_text())
        events = pq.ParquetFile(world / "events.parquet").metadata.num_rows
        runs = []
        stderr = ""
        for i in range(args.repeats):
            wall, peak, stderr = run_once(world, Path(tmp) / f"models{i}", meta["split_time"])
            runs.append((wall, peak))
            print(f"run {i + 1}: {wall:.1f} s, peak RSS {peak:,.0f} MB", flush=True)
    walls = [w for w, _ in runs]
    print(
        f"train on {events:,} events: median {statistics.median(walls):.1f} s "
        f"(min {min(walls):.1f}, max {max(walls):.1f}) over {len(runs)} runs, "
        f"peak RSS {max(p for _, p in runs):,.0f} MB (target <= 240 s)"
    )
    print("slowest stages of the last run:")
    for what, seconds in slow_stages(stderr):
        print(f"  {seconds:>7.1f} s  {what}")


if __name__ == "__main__":
    main()
