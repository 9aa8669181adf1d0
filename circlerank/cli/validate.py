"""`circlerank validate`: read a data directory, apply the contract, report."""

from __future__ import annotations

import argparse
import json
import sys

from .checks import read_data


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "validate",
        help="check a data directory against the data contract",
        description=(
            "Read every contract table in DIR, quarantine bad rows with a reason and "
            "report per table how many rows were read, accepted and quarantined. "
            "Exit 0 when the data is usable, 1 on a missing required table or a column "
            "that cannot be read as its type."
        ),
    )
    parser.add_argument("--data", required=True, metavar="DIR", help="the data directory")
    parser.add_argument(
        "--as-of", metavar="TS", help="reject rows stamped after this time (default: now)"
    )
    parser.add_argument(
        "--quarantine", metavar="DIR", help="where bad rows go (default: DIR/_quarantine)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    data = read_data(args.data, args.as_of, args.quarantine)
    if args.json:
        sys.stdout.write(json.dumps(data.report.to_dict(), indent=2) + "\n")
    else:
        sys.stdout.write(data.report.render_text() + "\n")
    return 0
