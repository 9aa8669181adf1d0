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

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", help="a simulated world directory (its _truth beside it)")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--replications", type=int, default=50)
    args = parser.parse_args()

    from evaluation.ope_check import replicate, summary
    from evaluation.simulator import SimConfig, simulate

    with tempfile.TemporaryDirectory() as tmp:
        world = Path(args.world) if args.world else Path(tmp) / "world"
        if not args.world:
            simulate(SimConfig(users=args.users, days=args.days, seed=args.seed), out_dir=world)
        truth_dir = world.parent / f"{world.name}_truth"
        truth = pd.read_parquet(truth_dir / "feed_truth.parquet")
        truth = truth.sort_values(["user_id", "post_id"], kind="stable").reset_index(drop=True)
        config = json.loads((truth_dir / "meta.json").read_text())["config"]
    rng = np.random.default_rng(42)
    p = truth["p_click"].to_numpy()
    logging_scores = np.log(p) + rng.normal(0, 1.0, len(p))
    targets = {
        "oracle": p,
        "logger_greedy": logging_scores,
        "noisy": np.log(p) + rng.normal(0, 2.0, len(p)),
    }
    model = np.clip(p * np.exp(rng.normal(0, 0.5, len(p))), 0, 1)
    results = replicate(
        truth,
        targets,
        logging_scores,
        model,
        epsilon=config["explore_epsilon"],
        slate=config["feed_slate_size"],
        decay=config["params"]["examine_decay"],
        replications=args.replications,
    )
    table = summary(results)
    print(
        f"{truth['user_id'].nunique():,} requests (truth users), {args.replications} "
        f"replications, logging epsilon {config['explore_epsilon']}, slates of "
        f"{config['feed_slate_size']}"
    )
    pd.set_option("display.width", 200)
    print(table.round(4).to_string())


if __name__ == "__main__":
    main()
