"""`circlerank evaluate`: compare strategies offline on the period after TS."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from circlerank.errors import ConfigError
from circlerank.progress import step

from .checks import bundle_dir, number, read_data, whole_number

if TYPE_CHECKING:
    from evaluation.offline import Comparison
from .rank import SURFACES
from .reports import write_outputs


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "evaluate",
        help="compare strategies on a held-out period",
        description=(
            "Rank the users active after --at with each strategy, as of --at, and judge "
            "the pages by what the users did after it: precision, recall, hit rate, MAP, "
            "MRR and NDCG at k with 95%% intervals, a paired t-test per pair, and "
            "coverage, novelty, diversity and exposure."
        ),
    )
    parser.add_argument("--data", metavar="DIR", required=True)
    parser.add_argument("--models", metavar="MODELS", required=True)
    parser.add_argument("--at", metavar="TS", required=True, help="split time (UTC if naive)")
    parser.add_argument("--strategies", required=True, help="comma-separated strategy names")
    parser.add_argument("--surface", choices=sorted(SURFACES), default="feed")
    parser.add_argument("--k", type=whole_number, help="cut-off (default 10 feed, 5 circles)")
    parser.add_argument("--strategy-file", metavar="FILE", help="strategies TOML")
    parser.add_argument(
        "--ope",
        action="store_true",
        help="also estimate each strategy's clicks per request off-policy from the logged "
        "requests of the first --ope-hours after --at (IPS, clipped IPS, SNIPS, DR)",
    )
    parser.add_argument("--ope-hours", type=number, default=24.0, help="default 24")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--out", metavar="DIR", help="write evaluate.json and evaluate.html (a report) here"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from evaluation.offline import compare, html_sections
    from evaluation.offline_ope import ope_from_logs, ope_json, ope_sections
    from features.contract import parse_as_of
    from ranking.replay import Replayer
    from ranking.strategy import load_strategies
    from training.bundle import load_bundle, read_manifest, refuse_trained_after

    surface = SURFACES[args.surface]
    names = [n.strip() for n in args.strategies.split(",") if n.strip()]
    if not names:
        raise ConfigError("--strategies: give at least one name")
    strategies = load_strategies(args.strategy_file)
    for name in names:
        strategies.get(name, surface)  # fail fast, naming the valid ones
    at = parse_as_of(args.at, "--at")
    bundle_path = bundle_dir(args.models)
    data = read_data(args.data)
    if not data.has("events"):
        raise ConfigError(f"{args.data}: no events table: nothing to judge the pages by")
    refuse_trained_after(read_manifest(bundle_path), at, "--at")  # before loading
    bundle = load_bundle(args.models)
    replayer = Replayer(data, bundle, at, strategies=strategies)
    try:
        with step(f"ranking with {', '.join(names)} and judging the pages"):
            result = compare(replayer, surface, names, args.k)
        ope = None
        if args.ope:
            window = pd.Timedelta(hours=args.ope_hours)
            logs, ope = ope_from_logs(replayer, surface, names, window)
    finally:
        replayer.close()
    report = result.to_json()
    default = strategies.defaults.get(surface)
    sections = [_intro(result, default, at), *html_sections(result)]
    if ope is not None:
        report["ope"] = ope_json(logs, ope)
        sections += [_ope_intro(report["ope"]["warnings"]), *ope_sections(logs, ope)]
    if args.out:
        write_outputs(
            Path(args.out),
            "evaluate",
            report,
            f"Offline comparison: {', '.join(names)}",
            sections,
            f"{surface}, {result.users:,} users active after {at}; models {bundle.version}",
        )
    if args.json:
        sys.stdout.write(json.dumps({"strategies": report["strategies"]}, indent=2) + "\n")
        return 0
    k = result.k
    lines = [f"{surface}: {result.users:,} users active after {at}, metrics @{k} (95% CI)"]
    for name, values in result.metrics.items():
        cells = "  ".join(
            f"{m} {v.mean:.4f} [{v.ci_low:.4f}, {v.ci_high:.4f}]" for m, v in values.items()
        )
        lines.append(f"  {name}: {cells}")
        extra = "  ".join(f"{m} {v:.3f}" for m, v in result.beyond[name].items())
        lines.append(f"    {extra}")
    for pair in result.pairs:
        if pair["metric"].startswith("ndcg"):
            lines.append(
                f"  {pair['b']} - {pair['a']}: {pair['metric']} {pair['diff']:+.4f} "
                f"[{pair['ci_low']:+.4f}, {pair['ci_high']:+.4f}] p {pair['p_value']:.3g}"
            )
    if ope is not None:
        lines.append(
            f"off-policy, {report['ope']['requests']:,} logged requests (clicks per request):"
        )
        for name, by_estimator in report["ope"]["strategies"].items():
            cells = "  ".join(
                f"{e} {v['value']:.4f} [{v['ci_low']:.4f}, {v['ci_high']:.4f}] ess {v['ess']:.0f}"
                for e, v in by_estimator.items()
            )
            lines.append(f"  {name}: {cells}")
        lines += [f"  warning: {w}" for w in report["ope"]["warnings"]]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _intro(result: Comparison, default: str | None, at: object) -> str:
    """What the report shows, which strategy is the default, and what to conclude."""
    from evaluation import report

    ndcg = f"ndcg@{result.k}"
    best = max(result.metrics, key=lambda n: result.metrics[n]["ndcg"].mean)
    clear = [
        p for p in result.pairs if p["metric"] == ndcg and p["p_value"] < 0.05 and p["diff"] != 0
    ]
    verdicts = [
        f"`{p['b'] if p['diff'] > 0 else p['a']}` beats `{p['a'] if p['diff'] > 0 else p['b']}` "
        f"on NDCG@{result.k} by {abs(p['diff']):.4f} (p {p['p_value']:.2g})."
        for p in clear
    ] or [f"No two strategies differ clearly on NDCG@{result.k} (every p >= 0.05)."]
    served = (
        f"The default strategy of {result.surface} (what the API serves when a request names "
        f"none) is `{default}`"
        + ("." if default in result.metrics else ", which is not among those compared.")
    )
    return report.section(
        "What this report shows",
        report.paragraphs(
            f"Each strategy ranked the {result.users:,} users active after {at}, as of that "
            "time, and its top pages are judged by what those users did next: precision, "
            "recall, hit rate, MAP, MRR and NDCG at k (higher is better; whiskers are 95% "
            "intervals), then coverage, novelty, diversity and exposure.",
            served,
        ),
        report.paragraphs(
            f"Highest NDCG@{result.k}: `{best}`"
            + (" (the default)" if best == default else "")
            + f", {result.metrics[best]['ndcg'].mean:.4f}.",
            *verdicts,
            css="verdict",
        ),
    )


def _ope_intro(warnings: list[str]) -> str:
    from evaluation import report

    caveat = (
        "Warnings below mean the estimates lean on few logged requests (a small effective "
        "sample size) or on tiny logging propensities: their intervals are too narrow to "
        "trust, so read those numbers as rough."
        if warnings
        else "No warning: the logged propensities and sample sizes support the intervals."
    )
    return report.section(
        "Off-policy estimates",
        report.paragraphs(
            "Each strategy's clicks per request estimated from the logged requests after the "
            "split alone (IPS, clipped IPS, SNIPS, doubly robust), as if it had been served.",
        ),
        report.paragraphs(caveat, *warnings, css="warning" if warnings else ""),
    )
