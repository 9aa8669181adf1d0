"""`circlerank rehearse`: run two strategies as arms on the simulator and analyse them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .reports import write_outputs
from .simulate import add_world_arguments


def register(sub: argparse._SubParsersAction) -> None:
    from evaluation.closed_loop import STRATEGIES

    parser = sub.add_parser(
        "rehearse",
        help="rehearse an A/B experiment on the simulator",
        description=(
            "Simulate a world in which, from --start-day on, each user's feed is served by "
            "the strategy of the user's arm (50/50 by a salted hash); users act by the "
            "truth and their actions feed the next days. Then analyse the logged arms as "
            "`circlerank ab` does and write ab.json and ab.html to --out/report."
        ),
    )
    parser.add_argument("--out", required=True, metavar="DIR")
    add_world_arguments(parser, users=2_000, days=21)
    parser.add_argument("--control", choices=STRATEGIES, default="logging")
    parser.add_argument("--treatment", choices=STRATEGIES, default="short")
    parser.add_argument("--start-day", type=int, default=7, help="first day of the experiment")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from evaluation.ab import html_sections
    from evaluation.closed_loop import rehearse
    from evaluation.simulator import SimConfig

    config = SimConfig(users=args.users, days=args.days, seed=args.seed)
    out = Path(args.out)
    events, analysis = rehearse(config, out / "world", args.control, args.treatment, args.start_day)
    events.to_parquet(out / "experiment_events.parquet", index=False)
    report = analysis.to_json()
    write_outputs(
        out / "report",
        "ab",
        report,
        f"Rehearsal: {args.treatment} vs {args.control}",
        html_sections(analysis),
        f"simulated {args.users:,} users x {args.days} days, seed {args.seed}; experiment "
        f"from day {args.start_day}",
    )
    lines = [f"rehearsal {report['experiment']}: SRM p {report['srm_p_value']:.3g}"]
    for metric, arms in report["metrics"].items():
        m = arms[args.treatment if args.treatment != args.control else f"{args.treatment}_arm"]
        lines.append(
            f"  {metric}: diff {m['diff']:+.4f} [{m['ci_low']:+.4f}, {m['ci_high']:+.4f}] "
            f"p {m['p_value']:.3g}"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
