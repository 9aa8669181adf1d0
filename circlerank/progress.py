"""Progress reporting for long steps: a log line per step and a bar for long loops.

Steps log through the `circlerank` logger (the CLI sends it to stderr), so library code
never prints. Bars are drawn only when stderr is a terminal, so CI logs stay readable.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
log = logging.getLogger("circlerank")


@contextmanager
def step(name: str) -> Iterator[None]:
    """Log the start and the duration of one named step."""
    log.info("%s ...", name)
    started = time.perf_counter()
    yield
    log.info("%s done in %.1fs", name, time.perf_counter() - started)


def track(items: Iterable[T], desc: str, total: int | None = None, unit: str = "it") -> Iterator[T]:
    """Iterate with a progress bar on an interactive terminal, silently otherwise."""
    show = sys.stderr.isatty() and log.isEnabledFor(logging.INFO)
    yield from tqdm(items, desc=desc, total=total, unit=unit, disable=not show, leave=False)
