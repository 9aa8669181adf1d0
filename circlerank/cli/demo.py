"""`circlerank demo`: the whole loop on a small simulated world, on the embedded default.

simulate -> validate -> features -> train -> rank, then the ranking quality of each
strategy against the simulator's truth. Later issues add serving and evaluation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from circlerank.progress import step
from features.contract import load_contract

from .simulate import add_world_arguments, run_simulation


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the whole loop on a small simulated world",
        description=(
            "Simulate a small world, validate it, materialize its features, train the "
            "models at the split, rank every strategy for the truth users and print what "
            "each step produced, ending with share of oracle per strategy."
        ),
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
    from evaluation.quality import quality_rows, read_truth, render
    from features.compute import FeatureBuilder
    from features.materialize import write_snapshot
    from features.training_rows import logged_impressions
    from ranking.replay import Replayer
    from training.train import train

    with step(f"simulating {args.users:,} users x {args.days} days"):
        result = run_simulation(args)
    with step("validating the world against the data contract"):
        data = load_contract(args.out)
    sys.stdout.write("\n== validation report ==\n")
    sys.stdout.write(data.report.render_text() + "\n")

    feature_dir = Path(args.out).parent / "features"
    builder = FeatureBuilder(data)
    with step("materializing features at the split"):
        snapshot = write_snapshot(builder, feature_dir, result.split_time)
    impressions = logged_impressions(data, "feed")
    with step(f"point-in-time features of {len(impressions):,} feed impressions"):
        training = builder.for_requests(impressions, "feed")
    sys.stdout.write("\n== features ==\n")
    sys.stdout.write(f"views on: {len(snapshot.schema.views)}, off: {len(snapshot.schema.off)}\n")
    for entity, count in snapshot.rows.items():
        width = len(snapshot.schema.columns[entity])
        sys.stdout.write(f"  {entity:<12} {count:>9,} rows x {width:>3} features\n")
    sys.stdout.write(
        f"feed training rows: {len(training):,} x {training.shape[1] - 3} features "
        f"(each as of its own impression)\nstores: {feature_dir}\n"
    )
    sys.stdout.write(f"truth for evaluation: {result.truth_dir}\n")

    models = Path(args.out).parent / "models"
    with step("training at the split"):
        bundle = train(data, until=result.split_time)
        bundle.save(models)
    sys.stdout.write(f"\n== models ==\nbundle {bundle.version} in {models}\n")
    for surface, metrics in bundle.manifest["metrics"].items():
        heads = metrics["heads"]
        aucs = ", ".join(f"{k[:-4]} {v:.3f}" for k, v in heads.items() if k.endswith("_auc"))
        sys.stdout.write(f"  {surface} validation AUC: {aucs}\n")
    for surface, reason in bundle.manifest["skipped"].items():
        sys.stdout.write(f"  {surface} not trained: {reason}\n")
    replayer = Replayer(
        data, bundle, result.split_time, feature_dir=feature_dir, reuse_snapshot=True
    )
    try:
        rows = quality_rows(replayer, read_truth(result.truth_dir))
    finally:
        replayer.close()
    sys.stdout.write("\n== ranking quality at the split (share of oracle) ==\n")
    sys.stdout.write(render(rows) + "\n")
    return 0
