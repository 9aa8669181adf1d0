"""`circlerank simulate`: write a synthetic world in the data contract, plus its truth."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from .checks import whole_number

if TYPE_CHECKING:
    from evaluation.simulator import SimResult


def add_world_arguments(parser: argparse.ArgumentParser, users: int, days: int) -> None:
    parser.add_argument(
        "--users", type=whole_number, default=users, help=f"users (default {users})"
    )
    parser.add_argument(
        "--days", type=whole_number, default=days, help=f"logged days (default {days})"
    )
    parser.add_argument("--seed", type=whole_number, default=0, help="random seed (default 0)")


def register(sub: argparse._SubParsersAction) -> None:
    from evaluation.simulator.scenarios import SCENARIOS  # light: the registry only

    about = textwrap.fill(
        "Write a synthetic world in the data contract to DIR and, beside it, DIR_truth/ "
        "with the true engagement and join probabilities at the split time (the end of "
        "the logs). The same seed and scenario write identical files.",
        width=88,
    )
    scenarios = "\n".join(f"  {s.name:<15} {s.summary}" for s in SCENARIOS.values())
    parser = sub.add_parser(
        "simulate",
        help="write a synthetic world with ground truth",
        description=f"{about}\n\nscenarios (--scenario NAME):\n{scenarios}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output data directory")
    add_world_arguments(parser, users=10_000, days=60)
    parser.add_argument(
        "--scenario",
        default="baseline",
        metavar="NAME",
        help="the world's generative story, one of those listed above (default baseline)",
    )
    parser.set_defaults(handler=run)


def run_simulation(args: argparse.Namespace) -> SimResult:
    from evaluation.simulator import SimConfig, simulate  # heavy: only when simulating

    scenario = getattr(args, "scenario", "baseline")  # `demo` simulates the baseline
    config = SimConfig(users=args.users, days=args.days, seed=args.seed, scenario=scenario)
    return simulate(config, out_dir=Path(args.out))


def summary(result: SimResult) -> dict[str, object]:
    return {
        "scenario": result.scenario,
        "split_time": result.split_time.isoformat(),
        "truth_dir": str(result.truth_dir),
        "rows": result.row_counts,
    }


def run(args: argparse.Namespace) -> int:
    from circlerank.progress import step

    with step(f"simulating {args.users:,} users x {args.days} days"):
        result = run_simulation(args)
    sys.stdout.write(json.dumps(summary(result), indent=2) + "\n")
    return 0
