"""`circlerank import SOURCE`: public data sets into the data contract."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "import",
        help="import a public data set into the data contract",
        description=(
            "lastfm: the HetRec 2011 Last.fm data (non-commercial research use; cite "
            "HetRec 2011). Artists become circles, listening becomes memberships, the "
            "friend graph social edges, dated tag assignments posts. Tables the data does "
            "not have stay absent. Rows the contract would refuse are left out and counted "
            "in DATA/import_report.json."
        ),
    )
    parser.add_argument("source", choices=["lastfm"])
    parser.add_argument("--src", required=True, metavar="DIR", help="the data set's files")
    parser.add_argument("--out", required=True, metavar="DATA", help="contract tables go here")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from features.importers.lastfm import import_lastfm

    report = import_lastfm(args.src, args.out)
    sys.stdout.write(report.to_json() + "\n")
    return 0
