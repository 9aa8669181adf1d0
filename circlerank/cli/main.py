"""The `circlerank` command: one entry point, one module per subcommand.

Each command module exposes `register(subparsers)`, which adds its parser and sets
`handler` to a function taking the parsed arguments and returning an exit code.
Domain errors become one line on stderr with the error's exit code, never a traceback;
`error_line` is the one place that line is formatted. Progress goes to stderr as a few
stage lines per command (circlerank/progress.py); `--verbose` adds every nested step and
`--log-file` keeps them all in a file, so that stdout holds results only.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence

from circlerank import __version__
from circlerank.errors import CircleRankError, OutputError, plain_reason
from circlerank.memory import keep_freed_memory
from circlerank.progress import StagesOnly, TerminalHandler

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
# loggers of this project; any other library's records reach the user from WARNING up
PROJECT_LOGGERS = ("circlerank", "features", "training", "ranking", "evaluation", "serving")


def _add_output_options(parser: argparse.ArgumentParser, default: object) -> None:
    talk = parser.add_mutually_exclusive_group()
    talk.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="only warnings and errors"
    )
    talk.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="also every nested step's progress (stderr)",
    )
    parser.add_argument(
        "--log-file",
        metavar="FILE",
        default=default if default is argparse.SUPPRESS else None,
        help="also write every step's progress, nested ones included, to FILE",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="circlerank",
        description="Feed ranking and circle suggestions for circles in a payment app.",
    )
    parser.add_argument("--version", action="version", version=f"circlerank {__version__}")
    _add_output_options(parser, False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    # accepted after the command too (`circlerank demo -v`); SUPPRESS keeps a flag given
    # before the command from being reset by the command's own default
    for command in sub.choices.values():
        _add_output_options(command, argparse.SUPPRESS)
    return parser


def _ours_or_warning(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or record.name.startswith(PROJECT_LOGGERS)


def _configure_logging(quiet: bool, verbose: bool = False, log_file: str | None = None) -> None:
    formatter = logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S")
    terminal = TerminalHandler(sys.stderr)
    terminal.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        terminal.addFilter(StagesOnly())
    handlers: list[logging.Handler] = [terminal]
    if log_file:
        try:
            handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
        except OSError as exc:
            raise OutputError(f"--log-file {log_file}: cannot write ({exc.strerror})") from exc
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(_ours_or_warning)
    root = logging.getLogger()
    for old in root.handlers:
        old.close()  # a --log-file of an earlier call in this process
    root.handlers[:] = handlers
    root.setLevel(min(h.level or logging.DEBUG for h in handlers))


def error_line(command: str | None, exc: CircleRankError) -> str:
    """The one line a domain error becomes on stderr: which command refused, and why
    (the message names the flag or setting and, where a format is expected, an example)."""
    who = f"circlerank {command}" if command else "circlerank"
    return f"{who}: error: {_plain_message(exc)}\n"


# a pydantic validation dump: a header, then per error its location and an indented
# message with the error type and a link (as nested in another validator's message)
_DUMP_HEADER = re.compile(r"\d+ validation errors? for \w+")
_DUMP_ENTRY = re.compile(
    r"\n(?P<loc>\S[^\n]*)\n\s+(?P<msg>[^\n]*?) \[type=(?P<type>\w+)[^\]]*\]"
    r"(?:\n\s+For further information visit \S+)?"
)


def _plain_message(exc: BaseException) -> str:
    """The error's message on one line, with a pydantic validation dump it carries (a
    config file's errors) replaced by one plain clause per error."""
    from pydantic import ValidationError

    text = str(exc)
    inner = exc.__cause__ or exc.__context__
    if isinstance(inner, ValidationError) and str(inner) in text:
        clauses = [f"{_where(e['loc'])} {plain_reason(e)}".strip() for e in inner.errors()]
        text = text.replace(str(inner), "; ".join(clauses))
    text = _DUMP_ENTRY.sub(
        lambda m: f" {m['loc']} {plain_reason({'type': m['type'], 'msg': m['msg']})};", text
    )
    text = _DUMP_HEADER.sub("", text)
    parts = (part.strip().rstrip(";") for part in text.splitlines())
    return re.sub(r"\s+", " ", "; ".join(p for p in parts if p)).replace(": ;", ":").strip()


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _configure_logging(args.quiet, args.verbose, args.log_file)
    except CircleRankError as exc:
        sys.stderr.write(error_line(None, exc))
        return exc.exit_code
    if args.command not in LONG_RUNNING:
        # batch jobs allocate and free millions-of-rows arrays all the time; a server
        # keeps the default, so that its RSS follows what it holds
        keep_freed_memory()
    try:
        code: int = args.handler(args)
    except CircleRankError as exc:
        sys.stderr.write(error_line(args.command, exc))
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("circlerank: interrupted\n")
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
