"""Last.fm (HetRec 2011) under the RecBole-GNN social-recommendation protocol: random
8:1:1 split per user, full ranking of unlistened artists, Recall@10 and NDCG@10 on test
with each model's setting picked on validation, mean of 3 seeds; beside the published
figures. The engine rows run the README's commands with their defaults (`circlerank
import lastfm`, `train`, `rank --surface circles`) on each split's training pairs. See
evaluation/lastfm.py.

    .venv/bin/python benchmarks/lastfm.py [--src DIR] [--seeds 0,1,2] [--models A,B]
        [--json FILE]

Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

DEFAULT_SRC = Path(__file__).resolve().parents[2] / "shared" / "data" / "lastfm-hetrec2011"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default=str(DEFAULT_SRC))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--models", help="comma-separated rows to run (default: all; see evaluation/lastfm.py)"
    )
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from evaluation.lastfm import PUBLISHED, run

    started = time.perf_counter()
    seeds = tuple(int(s) for s in args.seeds.split(","))
    models = tuple(args.models.split(",")) if args.models else None
    rows = run(args.src, seeds, models)
    means = rows.groupby("model", sort=False)[["ndcg@10", "recall@10"]].mean()
    print(f"{'model':<34}{'NDCG@10':>9}{'Recall@10':>11}  seeds")
    out = {}
    for model, row in means.iterrows():
        print(f"{model:<34}{row['ndcg@10']:>9.4f}{row['recall@10']:>11.4f}  {len(seeds)}")
        out[model] = {"ndcg@10": row["ndcg@10"], "recall@10": row["recall@10"], "seeds": len(seeds)}
    for model, figures in PUBLISHED.items():
        recall = figures["recall@10"]
        shown = f"{recall:>11.4f}" if recall is not None else f"{'-':>11}"
        print(f"{model:<34}{figures['ndcg@10']:>9.4f}{shown}  published")
    print(
        f"({time.perf_counter() - started:.0f} s; settings picked on validation: "
        + "; ".join(
            f"{m} {s}" for m, s in rows.groupby("model", sort=False)["setting"].first().items()
        )
        + ")"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
