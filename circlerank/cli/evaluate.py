"""`circlerank evaluate`: compare strategies offline on the period after TS."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from circlerank.errors import ConfigError

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
    parser.add_argument("--k", type=int, help="cut-off (default 10 feed, 5 circles)")
    parser.add_argument("--strategy-file", metavar="FILE", help="strategies TOML")
    parser.add_argument(
        "--ope",
        action="store_true",
        help="also estimate each strategy's clicks per request off-policy from the logged "
        "requests of the first --ope-hours after --at (IPS, clipped IPS, SNIPS, DR)",
    )
    parser.add_argument("--ope-hours", type=float, default=24.0, help="default 24")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--out", metavar="DIR", help="write evaluate.json and evaluate.html (a report) here"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from evaluation.offline import compare, html_sections
    from evaluation.offline_ope import ope_from_logs, ope_json, ope_sections
    from features.contract import load_contract, parse_as_of
    from ranking.replay import Replayer
    from ranking.strategy import load_strategies
    from training.bundle import load_bundle, read_manifest, refuse_trained_after, resolve

    surface = SURFACES[args.surface]
    names = [n.strip() for n in args.strategies.split(",") if n.strip()]
    if not names:
        raise ConfigError("--strategies: give at least one name")
    strategies = load_strategies(args.strategy_file)
    for name in names:
        strategies.get(name, surface)  # fail fast, naming the valid ones
    at = parse_as_of(args.at)
    data = load_contract(args.data)
    if not data.has("events"):
        raise ConfigError(f"{args.data}: no events table: nothing to judge the pages by")
    refuse_trained_after(read_manifest(resolve(args.models)), at, "--at")  # before loading
    bundle = load_bundle(args.models)
    replayer = Replayer(data, bundle, at, strategies=strategies)
    try:
        result = compare(replayer, surface, names, args.k)
        ope = None
        if args.ope:
            window = pd.Timedelta(hours=args.ope_hours)
            logs, ope = ope_from_logs(replayer, surface, names, window)
    finally:
        replayer.close()
    report = result.to_json()
    sections = html_sections(result)
    if ope is not None:
        report["ope"] = ope_json(logs, ope)
        sections += ope_sections(logs, ope)
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
