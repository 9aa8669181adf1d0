"""`circlerank features`: list feature views, or materialize them as of a time."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from circlerank.errors import ConfigError
from circlerank.memory import peak_rss_mb
from circlerank.progress import step

from .checks import data_dir, read_data


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "features",
        help="list feature views or materialize them",
        description=(
            "Materialize every feature view as of a time (default: now) into OUT: the "
            "offline store (Parquet per entity), the memory-mapped online store, and a "
            "manifest with the schema. With --training also the point-in-time features of "
            "every logged impression (each as of its own time). --list prints the views."
        ),
    )
    parser.add_argument("--list", action="store_true", help="print the feature views and exit")
    parser.add_argument("--data", metavar="DIR", help="the data directory")
    parser.add_argument("--out", metavar="DIR", help="where the feature stores go")
    parser.add_argument("--as-of", metavar="TS", help="snapshot time (default: now)")
    parser.add_argument("--engine", choices=("pandas", "dask"), default="pandas")
    parser.add_argument(
        "--scheduler", metavar="ADDR", help="dask scheduler (default: a LocalCluster)"
    )
    parser.add_argument("--config", metavar="FILE", help="feature config TOML (default: built in)")
    parser.add_argument(
        "--training", action="store_true", help="also write features of logged impressions"
    )
    parser.set_defaults(handler=run)


def list_views(directory: str | None) -> str:
    from features.contract import load_contract
    from features.views import FAMILIES

    present = None
    if directory:
        present = load_contract(data_dir(directory))
    lines = []
    for family, views in FAMILIES.items():
        lines.append(f"{family}:")
        for view in views:
            state = ""
            if present is not None:
                state = (
                    "  [on]"
                    if view.available(present)
                    else "  [off: no "
                    + ", ".join(t for t in view.sources if not present.has(t))
                    + "]"
                )
            lines.append(
                f"  {view.name:<32} {view.entity:<12} from {', '.join(view.sources)}{state}"
            )
            lines.append(f"      {view.description}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.list:
        sys.stdout.write(list_views(args.data) + "\n")
        return 0
    if not args.data or not args.out:
        raise ConfigError("features needs --data DIR and --out DIR (or --list)")
    from features.compute import FeatureBuilder
    from features.config import FeatureConfig
    from features.contract import parse_as_of
    from features.engine import make_engine
    from features.materialize import write_manifest, write_snapshot
    from features.training_rows import logged_impressions

    started = time.perf_counter()
    as_of = parse_as_of(args.as_of, "--as-of")
    config = FeatureConfig.load(args.config)
    data = read_data(args.data, as_of)
    engine = make_engine(args.engine, args.scheduler)
    try:
        builder = FeatureBuilder(data, config, engine)
        with step(f"materializing every feature view as of {as_of}"):
            snapshot = write_snapshot(builder, args.out, as_of)
        training_rows: dict[str, int] = {}
        if args.training:
            for surface in ("feed", "circle_suggestions"):
                rows = logged_impressions(data, surface)
                if rows.empty:
                    continue
                with step(f"training features for {len(rows):,} {surface} impressions"):
                    frame = builder.for_requests(rows, surface)
                out = Path(args.out) / "training"
                out.mkdir(exist_ok=True)
                frame.to_parquet(out / f"{surface}.parquet", index=False)
                training_rows[surface] = len(frame)
    finally:
        engine.close()
    summary = {
        "as_of": as_of.isoformat(),
        "engine": args.engine,
        "views_on": len(snapshot.schema.views),
        "views_off": list(snapshot.schema.off),
        "absent_tables": list(snapshot.schema.absent_tables),
        "snapshot_rows": snapshot.rows,
        "training_rows": training_rows,
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    write_manifest(snapshot, engine=args.engine, extra={"run": summary})
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0
