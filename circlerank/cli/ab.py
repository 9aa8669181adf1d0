"""`circlerank ab`: analyse a live (or simulated) experiment from its logged events."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from circlerank.errors import ConfigError

from .reports import write_outputs

if TYPE_CHECKING:
    import pandas as pd

    from evaluation.ab import Design


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "ab",
        help="analyse an experiment's logged arms",
        description=(
            "Per arm: users, impressions, and per metric the mean and the difference from "
            "the control arm with a 95%% interval and p-value (Welch; delta method for "
            "per-impression ratios; CUPED with the pre-period), a sample-ratio-mismatch "
            "check, and an mSPRT always-valid p-value looked at daily."
        ),
    )
    parser.add_argument("--events", required=True, metavar="FILE", help="events .parquet/.csv")
    parser.add_argument("--experiment", required=True, metavar="NAME")
    parser.add_argument(
        "--experiments", metavar="FILE", help="experiments TOML (default: arms from the log)"
    )
    parser.add_argument("--json", action="store_true", help="print the analysis as JSON")
    parser.add_argument("--out", metavar="DIR", help="write ab.json and ab.html (a report) here")
    parser.set_defaults(handler=run)


def _design(args: argparse.Namespace, events: pd.DataFrame) -> Design:
    import pandas as pd

    from evaluation.ab import Design

    if args.experiments:
        from ranking.strategy import load_strategies
        from serving.experiments import load_experiments

        experiments = load_experiments(args.experiments, load_strategies()).experiments
        if args.experiment not in experiments:
            raise ConfigError(
                f"--experiment {args.experiment!r} is not in {args.experiments}; "
                f"it has: {', '.join(experiments) or 'none'}"
            )
        e = experiments[args.experiment]
        return Design(
            e.name,
            {a.name: a.share for a in e.arms},
            e.control_arm,
            e.surface,
            pd.Timestamp(e.start) if e.start else None,
        )
    arms = [a for a in pd.unique(events["arm"].dropna()) if a not in ("default", "requested")]
    if len(arms) < 2:
        raise ConfigError(f"the log has {len(arms)} experiment arm(s): {arms}; need two")
    return Design(args.experiment, {a: 1 / len(arms) for a in arms}, arms[0])


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from evaluation.ab import analyse, html_sections

    path = Path(args.events)
    try:
        events = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--events {path}: cannot read ({exc})") from exc
    events["ts"] = pd.to_datetime(events["ts"], utc=True, format="ISO8601")
    analysis = analyse(events, _design(args, events))
    report = analysis.to_json()
    if args.out:
        write_outputs(
            Path(args.out),
            "ab",
            report,
            f"Experiment {report['experiment']}",
            html_sections(analysis),
            f"control {report['control']}; events from {path}",
        )
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return 0
    lines = [f"experiment {report['experiment']} (control {report['control']})"]
    for arm, counts in report["arms"].items():
        lines.append(
            f"  {arm:<14} users {counts['users']:>8,}  impressions {counts['impressions']:>10,}"
        )
    flag = "  <- sample ratio mismatch: do not trust the results" if report["srm_flag"] else ""
    lines.append(f"SRM p-value {report['srm_p_value']:.3g}{flag}")
    for metric, arms in report["metrics"].items():
        lines.append(metric)
        for arm, m in arms.items():
            if m["p_value"] is None:
                lines.append(f"  {arm:<14} mean {m['mean']:.4f}")
            else:
                lines.append(
                    f"  {arm:<14} mean {m['mean']:.4f}  diff {m['diff']:+.4f} "
                    f"[{m['ci_low']:+.4f}, {m['ci_high']:+.4f}]  p {m['p_value']:.3g}"
                )
    for arm, seq in report["sequential"].items():
        if seq["p_value"]:
            lines.append(
                f"sequential ({arm}, {len(seq['days'])} daily looks): always-valid p "
                f"{seq['p_value'][-1]:.3g}"
            )
    lines += [f"note: {n}" for n in report["notes"]]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
