"""Memory of this process: its peak for reports, and settling what it loaded."""

from __future__ import annotations

import gc
import resource
import sys


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def settle_after_loading() -> None:
    """Take everything loaded so far (data, stores, models) out of the garbage
    collector's sight. A ranking process holds long-lived containers by the hundred
    thousand; each full collection walks them all and stalls the request it lands on
    (p99 of one feed request 24 -> 16 ms in benchmarks/rank_latency.py). Call once
    when loading is done: what is allocated later is collected as usual, what was
    frozen is never freed (a process that reloads should call `gc.unfreeze` first)."""
    gc.collect()
    gc.freeze()
