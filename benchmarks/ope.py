"""Off-policy estimators against the simulator's truth: bias, RMSE and 95% interval
coverage of IPS, clipped IPS, SNIPS and DR, exact-slot and position-based, for three
target rankings over 50 replications of the logging policy and the clicks.

The targets rank each truth user's feed candidates: `oracle` by the true click
probability, `logger_greedy` by the logging policy's own heuristic (a noisy truth), and
`noisy` by a noisier truth. DR's reward model is the truth with multiplicative noise.

    .venv/bin/python benchmarks/ope.py [--world DIR] [--users 10000] [--seed 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import pandas as pd  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", help="a simulated world directory (its _truth beside it)")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--replications", type=int, default=50)
    args = parser.parse_args()

    from evaluation.ope_check import check_on_truth, summary
    from evaluation.simulator import SimConfig, simulate

    with tempfile.TemporaryDirectory() as tmp:
        world = Path(args.world) if args.world else Path(tmp) / "world"
        if not args.world:
            simulate(SimConfig(users=args.users, days=args.days, seed=args.seed), out_dir=world)
        truth_dir = world.parent / f"{world.name}_truth"
        results = check_on_truth(truth_dir, args.replications)
        config = json.loads((truth_dir / "meta.json").read_text())["config"]
        requests = pd.read_parquet(truth_dir / "feed_truth.parquet")["user_id"].nunique()
    print(
        f"{requests:,} requests (truth users), {args.replications} replications, logging "
        f"epsilon {config['explore_epsilon']}, slates of {config['feed_slate_size']}"
    )
    pd.set_option("display.width", 200)
    print(summary(results).round(4).to_string())


if __name__ == "__main__":
    main()
