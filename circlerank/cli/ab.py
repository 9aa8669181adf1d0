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
    parser.add_argument(
        "--control",
        metavar="NAME",
        help=(
            "the control arm (default: the experiment's `control` in --experiments; "
            'without it, the arm named "control")'
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the analysis as JSON")
    parser.add_argument("--out", metavar="DIR", help="write ab.json and ab.html (a report) here")
    parser.set_defaults(handler=run)


def _design(args: argparse.Namespace, events: pd.DataFrame) -> Design:
    if args.experiments:
        return _design_from_config(args)
    return _design_from_log(events, args.experiment, args.control)


def _design_from_config(args: argparse.Namespace) -> Design:
    import pandas as pd

    from evaluation.ab import Design
    from ranking.strategy import load_strategies
    from serving.experiments import load_experiments

    experiments = load_experiments(args.experiments, load_strategies()).experiments
    if args.experiment not in experiments:
        raise ConfigError(
            f"--experiment {args.experiment!r} is not in {args.experiments}; "
            f"it has: {', '.join(experiments) or 'none'}"
        )
    e = experiments[args.experiment]
    arms = {a.name: a.share for a in e.arms}
    control = e.control_arm if args.control is None else _named_control(args.control, list(arms))
    return Design(e.name, arms, control, e.surface, pd.Timestamp(e.start) if e.start else None)


def _design_from_log(events: pd.DataFrame, name: str, control: str | None) -> Design:
    """The design as the log shows it, without its config: the experiment arms its rows
    carry (equal shares assumed), the one surface they were served on, and the control:
    `control`, else the arm named "control"; any other choice would be a guess."""
    from evaluation.ab import Design
    from serving.experiments import NON_EXPERIMENT_ARMS

    rows = _rows_of(events, name)
    arms = sorted(str(a) for a in rows["arm"].dropna().unique() if a not in NON_EXPERIMENT_ARMS)
    if len(arms) < 2:
        raise ConfigError(f"the log has {len(arms)} experiment arm(s) of {name}: {arms}; need two")
    control = _named_control(control, arms) if control is not None else _control_by_name(arms)
    surfaces = sorted(map(str, rows.loc[rows["arm"].isin(arms), "surface"].unique()))
    if len(surfaces) != 1:
        raise ConfigError(
            f"the arms {', '.join(arms)} were served on {', '.join(surfaces)}; pass "
            "--experiments FILE to say which experiment is which"
        )
    ordered = [control, *(a for a in arms if a != control)]
    return Design(name, {a: 1 / len(arms) for a in ordered}, control, surfaces[0])


def _rows_of(events: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of experiment `name`: all of them when the log has no experiment column
    (the contract's events table has none)."""
    if "experiment" not in events.columns:
        return events
    rows = events[events["experiment"] == name]
    if rows.empty:
        seen = ", ".join(map(str, events["experiment"].dropna().unique()[:10])) or "none"
        raise ConfigError(f"no events of experiment {name!r} in the log; experiments seen: {seen}")
    return rows


def _named_control(control: str, arms: list[str]) -> str:
    if control not in arms:
        raise ConfigError(f"--control {control!r} is not an arm; arms: {', '.join(arms)}")
    return control


def _control_by_name(arms: list[str]) -> str:
    from serving.experiments import CONTROL_ARM

    if CONTROL_ARM in arms:
        return CONTROL_ARM
    raise ConfigError(
        f"which arm is the control? The log's arms are {', '.join(arms)} and none is named "
        f"{CONTROL_ARM!r}: name it with --control NAME (or give --experiments FILE)"
    )


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from evaluation.ab import analyse, html_sections, metric_name, verdict

    path = Path(args.events)
    try:
        events = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--events {path}: cannot read ({exc})") from exc
    events["ts"] = pd.to_datetime(events["ts"], utc=True, format="ISO8601")
    if "experiment" in events.columns:  # another experiment's rows may share arm names
        events = events[events["experiment"].isna() | (events["experiment"] == args.experiment)]
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
    lines += [verdict(analysis, arm) for arm in report["arms"] if arm != report["control"]]
    for arm, counts in report["arms"].items():
        lines.append(
            f"  {arm:<14} users {counts['users']:>8,}  impressions {counts['impressions']:>10,}"
        )
    flag = "  <- sample ratio mismatch: do not trust the results" if report["srm_flag"] else ""
    lines.append(f"SRM p-value {report['srm_p_value']:.3g}{flag}")
    for metric, arms in report["metrics"].items():
        lines.append(metric_name(metric, analysis.design.surface))
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
