"""The `circlerank` command: one entry point, one module per subcommand.

Each command module exposes `register(subparsers)`, which adds its parser and sets
`handler` to a function taking the parsed arguments and returning an exit code.
Domain errors become one line on stderr with the error's exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from circlerank import __version__
from circlerank.errors import CircleRankError
from circlerank.memory import keep_freed_memory

from . import (
    ab,
    demo,
    evaluate,
    export_events,
    features,
    importer,
    rank,
    rehearse,
    serve,
    simulate,
    train,
    validate,
)

COMMANDS = (
    simulate,
    importer,
    validate,
    features,
    train,
    rank,
    evaluate,
    serve,
    export_events,
    ab,
    rehearse,
    demo,
)
LONG_RUNNING = {"serve"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="circlerank",
        description="Feed ranking and circle suggestions for circles in a payment app.",
    )
    parser.add_argument("--version", action="version", version=f"circlerank {__version__}")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings and errors on stderr"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def _configure_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.quiet)
    if args.command not in LONG_RUNNING:
        # batch jobs allocate and free millions-of-rows arrays all the time; a server
        # keeps the default, so that its RSS follows what it holds
        keep_freed_memory()
    try:
        code: int = args.handler(args)
    except CircleRankError as exc:
        sys.stderr.write(f"circlerank {args.command}: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("circlerank: interrupted\n")
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
