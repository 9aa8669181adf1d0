"""`circlerank export-events`: the event log as the contract's `events` table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from circlerank.errors import ConfigError, OutputError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "export-events",
        help="write the event log as a contract events table",
        description=(
            "Read every event in the log (impressions the server showed and events clients "
            "posted) and write them as the data contract's events table, for retraining."
        ),
    )
    parser.add_argument(
        "--event-log", metavar="URL", required=True, help="e.g. sqlite:///events.db"
    )
    parser.add_argument("--out", metavar="FILE", required=True, help="events.parquet or events.csv")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from serving.eventlog import contract_events, open_event_log

    out = Path(args.out)
    if out.suffix not in (".parquet", ".csv"):
        raise ConfigError(f"--out {out}: name a .parquet or .csv file")
    log = open_event_log(args.event_log)
    try:
        events = contract_events(log)
    finally:
        log.close()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".parquet":
            events.to_parquet(out, index=False)
        else:
            events.to_csv(out, index=False)
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write ({exc})") from exc
    sys.stderr.write(f"wrote {len(events):,} events -> {out}\n")
    return 0
