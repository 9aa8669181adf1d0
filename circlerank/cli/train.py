"""`circlerank train`: train candidate models and rankers into a versioned bundle."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from circlerank.progress import step

from .checks import read_data


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "train",
        help="train candidate models and rankers; write a model bundle",
        description=(
            "Train on logged impressions before --until (default: all of them) with "
            "point-in-time features: LightGBM heads, LambdaRank and a logistic baseline "
            "per surface, and implicit ALS with a faiss index for candidates. Writes "
            "MODELS/<version>/ and points MODELS/current at it; prints validation metrics, "
            "the scorer each surface serves (chosen on its validation days, with every "
            "contender's metric) and each candidate source's recall."
        ),
    )
    parser.add_argument("--data", metavar="DIR", required=True, help="the data directory")
    parser.add_argument("--out", metavar="MODELS", required=True, help="the models directory")
    parser.add_argument("--until", metavar="TS", help="train on rows before TS (default: all)")
    parser.add_argument("--config", metavar="FILE", help="TOML with [training] and [features]")
    parser.add_argument("--engine", choices=("pandas", "dask"), default="pandas")
    parser.add_argument(
        "--scheduler", metavar="ADDR", help="dask scheduler (default: a LocalCluster)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from features.contract import parse_as_of
    from features.engine import make_engine
    from ranking.for_training import ServingCandidates
    from training.config import TrainConfig
    from training.train import train

    config = TrainConfig.load(args.config)
    until = parse_as_of(args.until, "--until") if args.until else None
    data = read_data(args.data)
    engine = make_engine(args.engine, args.scheduler)
    try:
        with step("training every model the data supports"):
            bundle = train(data, ServingCandidates(), config, until, engine)
    finally:
        engine.close()
    where = bundle.save(Path(args.out))
    m = bundle.manifest
    summary = {
        "bundle": str(where),
        "version": bundle.version,
        "until": m["until"],
        "rows": m["rows"],
        "metrics": m["metrics"],
        "selection": m["selection"],
        "recall": m["recall"],
        "seconds": m["seconds"],
        "peak_rss_mb": m["peak_rss_mb"],
    }
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0
