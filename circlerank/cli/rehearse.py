"""`circlerank rehearse`: run two strategies as arms on the simulator and analyse them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .checks import number, whole_number
from .reports import write_outputs
from .simulate import add_world_arguments


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "rehearse",
        help="rehearse an A/B experiment on the simulator",
        description=(
            "Simulate a world in which, from --start-day on, each user's feed is served by "
            "the strategy of the user's arm (50/50 by a salted hash); users act by the "
            "truth, creators may respond to what their posts get (--creator-response), "
            "and what they do feeds the next days. A strategy is a simulator policy "
            "(logging, greedy, shuffle, short) or an engine feed strategy (e.g. "
            "engagement, community), ranked by the real pipeline with a bundle trained on "
            "the days before --start-day (at least 8 of them). Writes DIR/ab.json (ab's "
            "shape, with the community measures), DIR/ab.html, the labelled events and "
            "the simulated world(s)."
        ),
    )
    parser.add_argument("--out", required=True, metavar="DIR")
    add_world_arguments(parser, users=2_000, days=21)
    parser.add_argument("--scenario", default="baseline", metavar="NAME", help="world story")
    parser.add_argument(
        "--creator-response",
        type=number,
        metavar="S",
        help="how strongly creators respond to their posts' reception (0 = not at all; "
        "default: the scenario's own)",
    )
    parser.add_argument("--control", default="logging", metavar="NAME")
    parser.add_argument("--treatment", default="short", metavar="NAME")
    parser.add_argument(
        "--start-day", type=whole_number, default=7, help="first day of the experiment"
    )
    parser.add_argument(
        "--retrain-days",
        type=whole_number,
        metavar="N",
        help="retrain the engine's bundle every N days",
    )
    parser.add_argument(
        "--design",
        choices=("split", "worlds"),
        default="split",
        help="split: one world shared by both arms, as live; worlds: each arm serves a "
        "copy of the world forked at the start day (no interference between arms)",
    )
    parser.add_argument("--strategies", metavar="FILE", help="strategies TOML (default: shipped)")
    parser.add_argument(
        "--workers",
        type=whole_number,
        default=1,
        help="processes ranking an engine arm (default 1)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from evaluation.rehearsal.html import sections
    from evaluation.rehearsal.run import Rehearsal, rehearse
    from evaluation.simulator import SimConfig
    from evaluation.simulator.scenarios import get_scenario
    from evaluation.simulator.writer import world_tables, write_parquet
    from ranking.strategy import load_strategies

    params = get_scenario(args.scenario).params()
    if args.creator_response is not None:
        params = replace(params, creator_response=args.creator_response)
    config = SimConfig(
        users=args.users, days=args.days, seed=args.seed, scenario=args.scenario, params=params
    )
    settings = Rehearsal(
        control=args.control,
        treatment=args.treatment,
        start_day=args.start_day,
        retrain_days=args.retrain_days,
        design=args.design,
        workers=args.workers,
    )
    outcome = rehearse(config, settings, load_strategies(args.strategies))
    out = Path(args.out)
    for name, logs in outcome.logs.items():
        where = out / name if name == "world" else out / f"world_{name}"
        where.mkdir(parents=True, exist_ok=True)
        for table, frame in world_tables(outcome.world, logs).items():
            write_parquet(frame, where / f"{table}.parquet")
    write_parquet(outcome.events, out / "experiment_events.parquet")
    report = outcome.report
    write_outputs(
        out,
        "ab",
        report,
        f"Rehearsal: {args.treatment} vs {args.control}",
        sections(outcome.analysis, report),
        f"simulated {args.users:,} users x {args.days} days, scenario {args.scenario}, "
        f"creator response {params.creator_response:g}, seed {args.seed}; experiment from "
        f"day {args.start_day}, design {args.design}; {outcome.seconds:.0f}s",
    )
    treated = next(a for a in report["arms"] if a != report["control"])
    lines = [f"rehearsal {report['experiment']}: SRM p {report['srm_p_value']:.3g}"]
    for metric, arms in report["metrics"].items():
        m = arms.get(treated)
        if m is None:
            continue
        base = arms[report["control"]]["mean"]
        rel = f" ({m['diff'] / base:+.1%})" if base else ""
        lines.append(
            f"  {metric}: {base:.4g} -> {m['mean']:.4g}, diff {m['diff']:+.4f}{rel} "
            f"[{m['ci_low']:+.4f}, {m['ci_high']:+.4f}] p {m['p_value']:.3g}"
        )
    for metric, arms in report.get("launch", {}).items():
        base, m = arms[report["control"]]["mean"], arms[treated]
        lines.append(
            f"  launch {metric} (every user in both worlds, paired): {base:.4g} -> "
            f"{m['mean']:.4g} ({m['diff'] / base:+.1%} [{m['ci_low'] / base:+.1%}, "
            f"{m['ci_high'] / base:+.1%}])"
            if base
            else f"  launch {metric}: control mean 0"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
