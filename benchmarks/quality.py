"""Ranking quality against the simulator's ground truth, scenario by scenario.

For each scenario (evaluation/simulator/scenarios.py: worlds whose generative story
differs), simulates a world (10,000 users x 60 days by default), runs `train` with its
defaults at the split time, replays each strategy at the split for the truth users and
prints share of oracle@10 (feed, gain = true click probability) and @5 (suggestions,
gain = true join probability), what `train` chose and why, training time and memory;
then a scenario x strategy table per surface with the default's distance from the best
shipped alternative.

Also a *ceiling*: LightGBM fitted on the truth itself over the same features (a
diagnostic, never shipped), scoring pairs whose user AND item it never saw (a 2x2
split): how well the features can predict the truth.

Tune on some scenarios, report on others: settings may be chosen on the TUNING
scenarios (marked *) at seed 1; the default --seed 2 and every other scenario are
worlds they never saw.

    .venv/bin/python benchmarks/quality.py [--scenarios a,b] [--seed 2] [--users 10000]
        [--days 60] [--worlds DIR] [--no-ceiling] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# this folder holds a file named like the `features` package: keep it off the path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import lightgbm as lgb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

K = {"feed": 10, "circle_suggestions": 5}


def ceiling(
    replayer, surface: str, truth: pd.DataFrame, gain: str, seed: int, unseen_items: bool
) -> pd.DataFrame:
    """Rank truth pairs by a model fitted on the true gains of other users (and, with
    `unseen_items`, other items): two folds per key, each cell scored by a model fitted
    on the cells that share neither its users nor (optionally) its items."""
    from training.dataset import POSITION
    from training.ranker import inputs

    rows = truth[["user_id", "item_id"]].assign(as_of=replayer.at)
    features = replayer.features.for_requests(rows, surface).assign(**{POSITION: 0.0})
    columns = [c for c in replayer.bundle.ranker(surface, "heads").features]
    x = inputs(features, columns)
    y = truth[gain].to_numpy()

    def folds(column: str, salt: int) -> np.ndarray:
        ids = truth[column].unique()
        fold = pd.Series(np.random.default_rng([seed, salt]).integers(0, 2, len(ids)), index=ids)
        return truth[column].map(fold).to_numpy()

    user_fold = folds("user_id", 0)
    item_fold = folds("item_id", 1) if unseen_items else np.zeros(len(truth), dtype=np.int64)
    score = np.empty(len(truth))
    for u in (0, 1):
        for i in np.unique(item_fold):
            fit = (user_fold != u) & ((item_fold != i) if unseen_items else True)
            cell = (user_fold == u) & (item_fold == i)
            model = lgb.LGBMRegressor(
                n_estimators=300, learning_rate=0.05, num_leaves=63, verbose=-1, n_jobs=2
            )
            model.fit(x[fit], y[fit])
            score[cell] = model.predict(x[cell])
    ranked = truth[["user_id", "item_id"]].assign(score=score)
    ranked = ranked.sort_values(["user_id", "score"], ascending=[True, False])
    return ranked.assign(rank=ranked.groupby("user_id").cumcount())


# scenarios the shipped settings may be tuned on; every other one is reported only
TUNING = ("baseline", "social")


@dataclass
class ScenarioResult:
    scenario: str
    rows: list  # evaluation.quality.QualityRow
    events: int
    train_s: float
    train_mb: float
    selection: dict


def run_scenario(name: str, args: argparse.Namespace, tmp: Path) -> ScenarioResult:
    """Simulate (or reuse) the scenario's world, train with the defaults at its split,
    replay every compared strategy and the truth-fitted ceiling."""
    from circlerank.memory import peak_rss_mb
    from evaluation.oracle import share_of_oracle
    from evaluation.quality import QualityRow, quality_rows, read_truth
    from evaluation.simulator import SimConfig, simulate
    from features.contract import load_contract
    from ranking.for_training import ServingCandidates
    from ranking.replay import Replayer
    from training.train import train

    world = Path(args.worlds) / name / "world" if args.worlds else tmp / name / "world"
    if not (world / "users.parquet").exists():
        config = SimConfig(users=args.users, days=args.days, seed=args.seed, scenario=name)
        simulate(config, out_dir=world)
    truth_dir = world.parent / f"{world.name}_truth"
    split = pd.Timestamp(json.loads((truth_dir / "meta.json").read_text())["split_time"])
    data = load_contract(world, quarantine_dir=tmp / name / "q")
    started = time.perf_counter()
    bundle = train(data, ServingCandidates(), until=split)
    train_s = time.perf_counter() - started
    replayer = Replayer(data, bundle, split, feature_dir=tmp / name / "snapshot")
    truths = read_truth(truth_dir)
    rows = quality_rows(replayer, truths)
    if args.ceiling:
        for surface, truth in truths.items():
            if surface in bundle.rankers:
                best = ceiling(replayer, surface, truth, "gain", args.seed, True)
                share = share_of_oracle(best, truth, K[surface])
                rows.append(
                    QualityRow(surface, "ceiling: truth fit, unseen items", "-", share, 0.0)
                )
    replayer.close()
    return ScenarioResult(
        name,
        rows,
        len(data["events"]) if data.has("events") else 0,
        train_s,
        peak_rss_mb(),
        bundle.manifest.get("selection", {}),
    )


def summary(results: list[dict]) -> str:
    """Scenario x strategy share of oracle per surface (from `as_json` records), the
    default marked, and how far the bundle's own choice (the strategy that serves
    `auto` alone) is from the best shipped alternative that does not use `auto`."""
    from evaluation.quality import COMPARED
    from ranking.strategy import load_strategies

    shipped = load_strategies()
    defaults = shipped.defaults
    names = [r["scenario"] for r in results]
    lines = []
    for surface, compared in COMPARED.items():
        lines.append(
            f"\n{surface}: share of oracle@{K[surface]} per scenario "
            "(* = tuning scenario; others are reported only)"
        )
        lines.append(
            f"  {'strategy':<40}"
            + "".join(f"{n + ('*' if n in TUNING else ''):>16}" for n in names)
        )
        shares = {
            r["scenario"]: {
                q["strategy"]: q["share"] for q in r["shares"] if q["surface"] == surface
            }
            for r in results
        }
        for label, strategy in [*compared, ("ceiling: truth fit, unseen items", "-")]:
            cells = [shares[n].get(strategy) for n in names]
            if all(c is None for c in cells):
                continue
            mark = " <- default" if strategy == defaults.get(surface) else ""
            lines.append(
                f"  {label:<40}"
                + "".join(f"{c:>16.4f}" if c is not None else f"{'-':>16}" for c in cells)
                + mark
            )
        uses_auto = {s for _, s in compared if shipped.strategies[s].scorer == "auto"}
        own = next(s for _, s in compared if s in uses_auto and not shipped.strategies[s].rerankers)
        gaps = []
        for n in names:
            mine = shares[n]
            others = [v for s, v in mine.items() if s not in uses_auto and s != "-"]
            gap = mine[own] - max(others) if own in mine and others else float("nan")
            gaps.append(f"{gap:>+16.4f}")
        lines.append(f"  {own + ' (auto) - best alternative':<40}" + "".join(gaps))
    return "\n".join(lines)


def as_json(r: ScenarioResult) -> dict:
    return {
        "scenario": r.scenario,
        "train_s": r.train_s,
        "events": r.events,
        "selection": r.selection,
        "shares": [
            {"surface": q.surface, "label": q.label, "strategy": q.strategy, "share": q.share}
            for q in r.rows
        ],
    }


def main() -> None:
    from evaluation.simulator.scenarios import SCENARIOS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help="comma-separated scenario names (default: all)",
    )
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--worlds", help="reuse worlds at WORLDS/<scenario>/world (made if absent)")
    parser.add_argument(
        "--no-ceiling", dest="ceiling", action="store_false", help="skip the truth-fitted ceiling"
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    parser.add_argument(
        "--summarize",
        nargs="+",
        metavar="JSON",
        help="only print the scenario x strategy tables of earlier --json files (a later "
        "file's scenario replaces an earlier one's)",
    )
    args = parser.parse_args()
    if args.summarize:
        merged: dict[str, dict] = {}
        for path in args.summarize:
            merged.update({r["scenario"]: r for r in json.loads(Path(path).read_text())})
        print(summary(list(merged.values())))
        return
    logging.basicConfig(level=logging.WARNING)
    from evaluation.quality import ecosystem_summary, render

    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; valid: {', '.join(SCENARIOS)}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            print(f"--- scenario {name}", file=sys.stderr, flush=True)
            result = run_scenario(name, args, Path(tmp))
            results.append(result)
            print(
                f"\nscenario {name}{' (tuning)' if name in TUNING else ''}: seed {args.seed}, "
                f"{args.users:,} users x {args.days} days, {result.events:,} events; "
                f"train {result.train_s:.1f} s, peak RSS {result.train_mb:,.0f} MB"
            )
            print(render(result.rows))
            print(ecosystem_summary(result.rows, "engagement", "community"))
            for surface, chosen in result.selection.items():
                contenders = ", ".join(f"{k} {v:.4f}" for k, v in chosen["contenders"].items())
                params = ", ".join(f"{k} {v:.3f}" for k, v in chosen["params"].items())
                print(
                    f"  {surface}: train chose {chosen['scorer']} ({params}); validation AUC "
                    f"on {chosen['positives']} positives of {chosen['judged_on']}: {contenders}",
                    flush=True,
                )
    records = [as_json(r) for r in results]
    print(summary(records))
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))


if __name__ == "__main__":
    main()
