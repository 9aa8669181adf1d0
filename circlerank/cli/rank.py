"""`circlerank rank`: offline replay of a strategy at a past time."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from circlerank.errors import ConfigError, OutputError
from circlerank.progress import step

from .checks import bundle_dir, data_dir, read_data, whole_number

SURFACES = {"feed": "feed", "circles": "circle_suggestions"}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "rank",
        help="rank users' feeds or circle suggestions as of a past time",
        description=(
            "Rank with the pipeline the API uses, with features as of --at (rows strictly "
            "before it). Writes user_id, item_id, rank (0-based), score, reasons (codes) and "
            "explanation (a short text from coarse signals only). Unknown users get the "
            "cold-start result."
        ),
    )
    parser.add_argument("--data", metavar="DIR", required=True)
    parser.add_argument("--models", metavar="MODELS", required=True)
    parser.add_argument("--surface", choices=sorted(SURFACES), required=True)
    parser.add_argument("--at", metavar="TS", required=True, help="replay time (UTC if naive)")
    parser.add_argument("--users", metavar="FILE", required=True, help="one user id per line")
    parser.add_argument(
        "--limit", type=whole_number, default=10, help="items per user (default 10)"
    )
    parser.add_argument("--strategy", metavar="NAME", help="default: the surface's default")
    parser.add_argument("--strategies", metavar="FILE", help="strategies TOML (default: shipped)")
    parser.add_argument("--out", metavar="FILE.parquet", required=True)
    parser.add_argument(
        "--workers",
        type=whole_number,
        help="processes ranking batches of users at once (default: one per core)",
    )
    parser.set_defaults(handler=run)


def read_users(path: str) -> np.ndarray:
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise ConfigError(f"--users {path}: cannot read ({exc.strerror})") from exc
    users = [line.strip() for line in lines if line.strip()]
    if not users:
        raise ConfigError(f"--users {path}: no user ids (expected one per line)")
    return np.asarray(users, dtype=object)


def run(args: argparse.Namespace) -> int:
    from features.contract import parse_as_of
    from ranking.forked import default_workers
    from ranking.pipeline import Pipeline
    from ranking.replay import Replayer
    from ranking.strategy import load_strategies
    from training.bundle import load_bundle, read_manifest, refuse_trained_after

    if args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    workers = default_workers() if args.workers is None else args.workers
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    data_dir(args.data)
    surface = SURFACES[args.surface]
    strategies = load_strategies(args.strategies)
    strategies.get(args.strategy, surface)  # fail fast on an unknown name
    users = read_users(args.users)
    at = parse_as_of(args.at, "--at")
    refuse_trained_after(read_manifest(bundle_dir(args.models)), at, "--at")  # before loading
    bundle = load_bundle(args.models)
    data = read_data(args.data)
    replayer = Replayer(data, bundle, at, strategies=strategies, workers=workers)
    try:
        with step(f"ranking {len(users):,} users' {surface} as of {at}"):
            result = replayer.rank(surface, users, args.limit, args.strategy)
    finally:
        replayer.close()
    pipeline = Pipeline(strategies.get(args.strategy, surface))
    explained = replayer.catalog.explainer.explain(surface, result.ranked, pipeline.source_names)
    out = result.ranked[["user_id", "item_id", "rank", "score"]].assign(
        reasons=[e.codes for e in explained], explanation=[e.text for e in explained]
    )
    try:
        out.to_parquet(args.out, index=False)
    except OSError as exc:
        raise OutputError(f"--out {args.out}: cannot write ({exc})") from exc
    removed = ", ".join(f"{k} {v:,}" for k, v in sorted(result.removed.items())) or "none"
    sys.stderr.write(
        f"ranked {out['user_id'].nunique():,} of {len(users):,} users, {len(out):,} rows "
        f"-> {args.out}; removed: {removed}\n"
    )
    return 0
