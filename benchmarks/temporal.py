"""Circle suggestions over time: train until T, suggest at T, judge by the circles each
user joined in the window after T (evaluation/temporal.py has the exact definitions).

For each --at T: the engine (`circlerank train --until T` then `circlerank rank
--surface circles --at T`, both with their defaults, as subprocesses), popularity,
recent popularity (joins in the 180 days before T) and implicit ALS (its setting picked
on the window before T), all masking the circles a user held before T and those not
existing at T; NDCG@10 and Recall@10 over the judged users with 95% intervals
(percentile bootstrap over users, the same draws for every model), and the engine's
NDCG@10 over the best baseline's with its paired interval.

    .venv/bin/python benchmarks/temporal.py --data DIR --at 2008-01-01 --at 2007-01-01
        [--window-days 365] [--no-engine] [--json FILE]

--data is a contract directory (e.g. `circlerank import ciao --src
/work/shared/data/ciao-2000-2008 --out DIR`); it is only read: the engine runs on a
directory of symlinks to its tables. The window is one calendar year by default.

Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# this folder holds a file named like the `features` package: keep it off the path
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

import pandas as pd  # noqa: E402

BASELINES = ("popularity", "recent popularity", "implicit ALS")
ENGINE = "engine (train + rank, defaults)"


def _times(values: list[str]) -> list[str]:
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


def one_cut(
    data: Path, tables: dict[str, pd.DataFrame], at: str, args: argparse.Namespace
) -> dict[str, Any]:
    from evaluation import temporal as tp

    started = time.perf_counter()
    p = tp.protocol(tables, at, args.window_days)
    out: dict[str, Any] = {"at": p.at.isoformat(), "end": p.end.isoformat(), **p.stats()}
    seconds: dict[str, float] = {}
    per_user: dict[str, pd.DataFrame] = {}
    if args.engine:
        with tempfile.TemporaryDirectory(prefix="circlerank-temporal-") as tmp:
            result = tp.engine(data, p, Path(tmp))
        per_user[ENGINE] = tp.evaluate(result.run, p)
        seconds |= {"engine train": result.train_seconds, "engine rank": result.rank_seconds}
        masked = len(result.run) - len(tp.mask(result.run, p))
        out["engine"] = {
            "rows": len(result.run),
            "rows_masked": masked,
            "users_ranked": int(result.run["user_id"].nunique()),
            "train": {
                k: result.train_summary.get(k)
                for k in ("version", "until", "seconds", "peak_rss_mb")
            },
            "rank": result.rank_log,
        }
    clock = time.perf_counter()
    per_user["popularity"] = tp.evaluate(tp.popularity(p), p)
    per_user["recent popularity"] = tp.evaluate(tp.recent_popularity(p), p)
    seconds["popularity (both)"] = time.perf_counter() - clock
    clock = time.perf_counter()
    tuned = tp.tuned_als(tables, p, args.window_days)
    per_user["implicit ALS"] = tp.evaluate(tuned.run, p)
    seconds["implicit ALS (grid + refit)"] = time.perf_counter() - clock
    out["als"] = {"setting": tuned.setting, "validation_ndcg@10": tuned.validation_ndcg}
    table = tp.intervals(per_user, resamples=args.resamples)
    out["models"] = {
        name: {
            "ndcg@10": row["ndcg"],
            "ndcg@10_ci95": [row["ndcg_low"], row["ndcg_high"]],
            "recall@10": row["recall"],
            "recall@10_ci95": [row["recall_low"], row["recall_high"]],
            "users": int(row["users"]),
        }
        for name, row in table.iterrows()
    }
    if args.engine:
        best = max(BASELINES, key=lambda b: float(table.loc[b, "ndcg"]))
        point, low, high = tp.ratio(per_user[ENGINE], per_user[best], resamples=args.resamples)
        out["engine_over_best_baseline"] = {"baseline": best, "ndcg@10": [point, low, high]}
    seconds["total"] = time.perf_counter() - started
    out["seconds"] = seconds
    return out


def show(cut: dict[str, Any]) -> None:
    print(
        f"\nT = {cut['at']}, judged [T, {cut['end']}): {cut['judged_users']:,} users "
        f"judged of {cut['eligible_users']:,} eligible, {cut['judged_pairs']:,} judged pairs, "
        f"{cut['circles_at_t']:,} circles at T"
    )
    print(f"{'model':<34}{'NDCG@10 [95% CI]':>26}{'Recall@10 [95% CI]':>26}{'users':>8}")
    for name, m in cut["models"].items():
        ndcg = f"{m['ndcg@10']:.4f} [{m['ndcg@10_ci95'][0]:.4f}, {m['ndcg@10_ci95'][1]:.4f}]"
        recall = (
            f"{m['recall@10']:.4f} [{m['recall@10_ci95'][0]:.4f}, {m['recall@10_ci95'][1]:.4f}]"
        )
        print(f"{name:<34}{ndcg:>26}{recall:>26}{m['users']:>8,}")
    ratio = cut.get("engine_over_best_baseline")
    if ratio:
        point, low, high = ratio["ndcg@10"]
        print(
            f"engine / best baseline ({ratio['baseline']}) NDCG@10: "
            f"{point:.3f} [{low:.3f}, {high:.3f}]"
        )
    als = cut["als"]
    print(f"ALS setting (picked on the window before T): {als['setting']}")
    if "engine" in cut:
        e = cut["engine"]
        print(
            f"engine: {e['users_ranked']:,} users ranked, {e['rows']:,} rows, "
            f"{e['rows_masked']:,} masked by the protocol; rank: {e['rank']}"
        )
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in cut["seconds"].items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", metavar="DIR", required=True, help="a contract directory")
    parser.add_argument(
        "--at",
        action="append",
        required=True,
        metavar="T",
        help="cut-off (repeatable or a comma list), e.g. 2008-01-01",
    )
    parser.add_argument(
        "--window-days",
        type=int,
        metavar="N",
        help="judge the joins of the N days after T (default: one calendar year)",
    )
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap draws")
    parser.add_argument("--no-engine", dest="engine", action="store_false", help="baselines only")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from evaluation.temporal import TABLES
    from features.contract import load_contract

    data = Path(args.data)
    with tempfile.TemporaryDirectory(prefix="circlerank-temporal-q-") as quarantine:
        contract = load_contract(data, quarantine_dir=quarantine)
    tables = {name: contract[name] for name in TABLES}
    cuts = []
    for at in _times(args.at):
        cut = one_cut(data, tables, at, args)
        show(cut)
        cuts.append(cut)
    if args.json:
        Path(args.json).write_text(json.dumps({"data": str(data), "cuts": cuts}, indent=2) + "\n")


if __name__ == "__main__":
    main()
