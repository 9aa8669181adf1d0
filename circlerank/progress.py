"""Progress reporting for long steps: stage lines for the outermost steps, details below.

Steps log through the `circlerank` logger (the CLI sends it to stderr), so library code
never prints. Only the outermost step of a run is a stage: its start and its duration
are logged at INFO; the steps nested in it log at DEBUG (shown with `--verbose` or in a
`--log-file`). On an interactive terminal a stage also draws one live status line that
names the nested step at work, and long loops draw a bar; logs and CI stay line-based.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
log = logging.getLogger("circlerank")


class _Stages:
    """How many steps are open, process-wide: a step opened while another is open (in
    any thread, e.g. a server started by a stage) is a detail of that stage."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.status: tqdm | None = None
        self.pid = os.getpid()  # a forked worker inherits the status line but must not draw it

    def enter(self) -> int:
        with self.lock:
            self.depth += 1
            return self.depth - 1

    def leave(self) -> None:
        with self.lock:
            self.depth -= 1


_stages = _Stages()


def _interactive() -> bool:
    return sys.stderr.isatty() and log.isEnabledFor(logging.INFO)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Log the start and the duration of one named step: at INFO for a stage (the
    outermost step), at DEBUG for a step inside one."""
    depth = _stages.enter()
    level = logging.INFO if depth == 0 else logging.DEBUG
    mark = {"stage": depth == 0}
    log.log(level, "%s ...", name, extra=mark)
    started = time.perf_counter()
    status = _open_status(name) if depth == 0 else None
    if depth > 0 and _stages.status is not None and _stages.pid == os.getpid():
        _stages.status.set_postfix_str(name[:70])
    try:
        yield
    finally:
        if status is not None:
            status.close()
            _stages.status = None
        _stages.leave()
    log.log(level, "%s done in %.1fs", name, time.perf_counter() - started, extra=mark)


def _open_status(name: str) -> tqdm | None:
    """A live line under a stage on a terminal: its elapsed time and the step at work."""
    if not _interactive():
        return None
    _stages.pid = os.getpid()
    _stages.status = tqdm(
        total=None, desc=f"  {name}", bar_format="{desc}: {elapsed}{postfix}", leave=False
    )
    return _stages.status


def track(items: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Iterate with a progress bar on an interactive terminal, silently otherwise."""
    yield from tqdm(
        items, desc=desc, total=total, unit=unit, disable=not _interactive(), leave=False
    )


class StagesOnly(logging.Filter):
    """Keeps a terminal to the stage lines: drops the INFO details logged while a stage
    is open (`--verbose` shows them); warnings, and whatever is logged outside any
    stage (a server's own lines), pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return (
            record.levelno >= logging.WARNING
            or getattr(record, "stage", False)
            or _stages.depth == 0
        )


class TerminalHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Writes log lines above any live bar (through tqdm), so that bars are redrawn
    below the line instead of being broken by it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:
            self.handleError(record)
