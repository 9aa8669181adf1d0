"""`circlerank import SOURCE`: public data sets into the data contract."""

from __future__ import annotations

import argparse
import sys

from circlerank.errors import ConfigError

from .checks import whole_number

CIAO_ONLY = ("min_product_reviews", "min_user_reviews")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "import",
        help="import a public data set into the data contract",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "lastfm: the HetRec 2011 Last.fm data (non-commercial research use; cite\n"
            "HetRec 2011). Artists become circles, listening becomes memberships, the\n"
            "friend graph social edges, dated tag assignments posts.\n"
            "\n"
            "ciao: the Ciao reviews and trust data of Tang, Gao and Liu (research use;\n"
            "cite mTrust, WSDM 2012, and eTrust, KDD 2012). Products become circles\n"
            "(topic = category), a user's first review of a product a membership joined\n"
            "at its time, trust `follow` edges (undated: they carry the data's first\n"
            "date). Products with fewer than --min-product-reviews reviewers and users\n"
            "with fewer than --min-user-reviews reviewed products are dropped, repeated\n"
            "until nothing changes, counting every review in the file.\n"
            "\n"
            "Tables the data does not have stay absent. Rows the contract would refuse,\n"
            "and rows filtered out, are counted in DATA/import_report.json."
        ),
    )
    parser.add_argument("source", choices=["lastfm", "ciao"])
    parser.add_argument("--src", required=True, metavar="DIR", help="the data set's files")
    parser.add_argument("--out", required=True, metavar="DATA", help="contract tables go here")
    parser.add_argument(
        "--min-product-reviews",
        type=whole_number,
        metavar="N",
        help="ciao only: keep products with at least N distinct reviewers (default 5)",
    )
    parser.add_argument(
        "--min-user-reviews",
        type=whole_number,
        metavar="N",
        help="ciao only: keep users with at least N reviewed products (default 2)",
    )
    parser.set_defaults(handler=run)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def run(args: argparse.Namespace) -> int:
    given = {name: getattr(args, name) for name in CIAO_ONLY if getattr(args, name) is not None}
    if args.source == "lastfm":
        from features.importers.lastfm import import_lastfm

        if given:
            raise ConfigError(f"{', '.join(map(_flag, given))} applies only to ciao")
        report = import_lastfm(args.src, args.out)
    else:
        from features.importers.ciao import import_ciao

        for name, value in given.items():
            if value < 1:
                raise ConfigError(f"{_flag(name)} must be a whole number >= 1, got {value}")
        report = import_ciao(args.src, args.out, **given)
    sys.stdout.write(report.to_json() + "\n")
    return 0
