"""`circlerank demo`: the whole loop on a small simulated world, on the embedded default.

For now: simulate -> validate -> print the report. Later issues extend the loop to
features, training, ranking, serving and evaluation.
"""

from __future__ import annotations

import argparse
import sys

from circlerank.progress import step
from features.contract import load_contract

from .simulate import add_world_arguments, run_simulation


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the whole loop on a small simulated world",
        description="Simulate a small world, validate it and print the report.",
    )
    parser.add_argument(
        "--out",
        default="demo/world",
        metavar="DIR",
        help="where the world goes (default demo/world)",
    )
    add_world_arguments(parser, users=2_000, days=30)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    with step(f"simulating {args.users:,} users x {args.days} days"):
        result = run_simulation(args)
    with step("validating the world against the data contract"):
        data = load_contract(args.out)
    sys.stdout.write("\n== validation report ==\n")
    sys.stdout.write(data.report.render_text() + "\n")
    sys.stdout.write(f"\ntruth for evaluation: {result.truth_dir}\n")
    return 0
