"""`circlerank rehearse` wall time with engine strategies in the loop.

Runs the command a user would, `circlerank rehearse --control engagement --treatment
community`, on 5,000 users: 14 logged days before the experiment (the bundle is trained
on them, `train`'s defaults) and 30 days of it, --runs times, each in a fresh process,
and prints each run's wall time, their median, and the slowest stages of the last run
(from the command's own progress lines). Target: <= 10 minutes on 2 cores. The
rehearsal's own figures (ab.json) of the last run are printed too.

    .venv/bin/python benchmarks/rehearse.py [--runs 1] [--scenario baseline]
        [--creator-response 1] [--design split] [--retrain-days N]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

STAGE = re.compile(r"^\d\d:\d\d:\d\d (?P<what>.+) done in (?P<s>[\d.]+)s$")


def run_once(out: Path, extra: list[str]) -> tuple[float, str]:
    command = [sys.executable, "-m", "circlerank.cli.main", "-v", "rehearse", "--out", str(out)]
    command += extra
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"rehearse failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--start-day", type=int, default=14)
    parser.add_argument("--experiment-days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", default="baseline")
    parser.add_argument("--creator-response", type=float, default=1.0)
    parser.add_argument("--design", default="split")
    parser.add_argument("--retrain-days", type=int)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    extra = ["--users", str(args.users), "--seed", str(args.seed)]
    extra += ["--days", str(args.start_day + args.experiment_days)]
    extra += ["--start-day", str(args.start_day), "--scenario", args.scenario]
    extra += ["--creator-response", str(args.creator_response), "--design", args.design]
    extra += ["--control", "engagement", "--treatment", "community"]
    if args.retrain_days:
        extra += ["--retrain-days", str(args.retrain_days)]
    print("circlerank rehearse " + " ".join(extra), flush=True)
    walls = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            wall, stderr = run_once(Path(tmp) / f"run{i}", extra)
            walls.append(wall)
            print(f"run {i + 1}: {wall:.1f} s", flush=True)
        report = json.loads((Path(tmp) / f"run{args.runs - 1}" / "ab.json").read_text())
    stages = []
    for line in stderr.splitlines():
        found = STAGE.match(line.strip())
        if found and found["what"].startswith(("rehearse", "feature snapshot", "simulate")):
            stages.append((found["what"], float(found["s"])))
    print(f"median wall time: {statistics.median(walls):.1f} s over {len(walls)} run(s)")
    print("slowest stages of the last run:")
    for what, seconds in sorted(stages, key=lambda s: -s[1])[:8]:
        print(f"  {seconds:7.1f} s  {what}")
    control = report["control"]
    for metric, arms in report["metrics"].items():
        for arm, m in arms.items():
            if arm == control:
                continue
            base = arms[control]["mean"]
            rel = m["diff"] / base if base else float("nan")
            print(
                f"{metric:28s} {base:9.4g} -> {m['mean']:9.4g}  {rel:+7.1%} "
                f"[{m['ci_low'] / base if base else float('nan'):+.1%}, "
                f"{m['ci_high'] / base if base else float('nan'):+.1%}]  p {m['p_value']:.3g}"
            )


if __name__ == "__main__":
    main()
