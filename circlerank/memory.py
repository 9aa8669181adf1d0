"""Process memory: peak usage for reports, and how the C allocator treats freed memory."""

from __future__ import annotations

import ctypes
import gc
import os
import platform
import resource
import sys
from collections.abc import Callable
from typing import cast

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
SERVER_ARENAS = 2  # malloc arenas per server process
_KEEP_UP_TO = 2**31 - 1  # bytes of free heap top kept before trimming (mallopt takes an int)
_USER_SETTINGS = ("MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _glibc_mallopt(user_settings: tuple[str, ...]) -> Callable[[int, int], int] | None:
    """glibc's mallopt, or None off glibc or when the user set any of `user_settings`
    or GLIBC_TUNABLES in the environment (the user's choice wins)."""
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return None
    if any(name in os.environ for name in (*user_settings, "GLIBC_TUNABLES")):
        return None
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return cast(Callable[[int, int], int], mallopt)


def keep_freed_memory() -> bool:
    """Make glibc's malloc reuse freed memory for later allocations instead of handing it
    back to the kernel; True when applied.

    glibc serves every allocation above 32 MiB with its own mmap and unmaps it on free,
    so each new array of more than 4 million float64 (a column of a 4x world) faults its
    pages in again, zeroed, while smaller arrays are recycled from the heap. Batch jobs
    allocate thousands of such columns: on the 4x features benchmark the kernel time fell
    from 28 s to 20 s and the wall time from 88 s to 80 s, peak RSS +1.5%. Nothing
    changes off glibc or when MALLOC_* or GLIBC_TUNABLES are set (the user's choice wins).
    """
    mallopt = _glibc_mallopt(_USER_SETTINGS)
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_UP_TO))


def limit_malloc_arenas(arenas: int = SERVER_ARENAS) -> dict[str, str]:
    """Cap glibc's malloc arenas in this process and, through the returned environment
    variable, in the processes it starts; {} when not applied.

    glibc gives threads that allocate at once arenas of their own, up to 8 per core, and
    an arena keeps the high-water mark of what its threads held. When the server ranked
    on whichever pool thread a request landed (it ranks on its event loop now, beside
    the impression writer's and the thread pool's threads), a ranking that combined
    several queued requests allocated tens of MB: at 200 requests/s the two workers' RSS
    climbed from 1,913 to 2,790 MB over 200 s before levelling off; with 2 arenas it
    stayed at 2,062-2,098 MB, latency unchanged. Nothing changes off glibc or when MALLOC_* or
    GLIBC_TUNABLES are set (the user's choice wins)."""
    mallopt = _glibc_mallopt(("MALLOC_ARENA_MAX",))
    if mallopt is None:
        return {}
    mallopt(_M_ARENA_MAX, arenas)
    return {"MALLOC_ARENA_MAX": str(arenas)}


def freeze_heap() -> None:
    """Take every object alive now out of the cyclic garbage collector's scans.

    A serving process holds millions of long-lived objects (data tables of strings,
    catalogs, models). Each full collection walks them all: in process, one full
    collection about every 1,500 feed requests stopped the server for 126 ms, the
    slowest request of 1,500 took 137 ms; frozen, none ran and the slowest took 21 ms.
    Objects still die when their last reference goes; unfreezing first lets the
    collector reclaim reference cycles a replaced model bundle left."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
