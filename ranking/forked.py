"""Independent batches of work in forked processes: offline replay on every core.

A fork starts with the parent's memory (the loaded data, the snapshot's memory maps,
the compiled models and the caches the first batch filled), so a worker is ready in
milliseconds where a fresh process would load everything again. Libraries with
OpenMP thread pools (faiss, LightGBM) hang when a forked child enters a parallel
region the parent already used, so each worker runs them on one thread; with as many
workers as cores that is no loss.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

B = TypeVar("B")
R = TypeVar("R")

# the work of the current pool: set before forking, so workers inherit it
_work: Callable[[object], object] | None = None


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def run_batches(work: Callable[[B], R], batches: Sequence[B], workers: int) -> Iterator[R]:
    """`work(batch)` for each batch, in batch order. The first batch runs here (it warms
    the caches every fork then shares); the rest in `workers` forked processes when
    there are several and the platform forks, else here too."""
    global _work
    if not batches:
        return
    yield work(batches[0])
    rest = batches[1:]
    if workers <= 1 or len(rest) <= 1 or not can_fork():
        yield from map(work, rest)
        return
    if _work is not None:
        raise RuntimeError("run_batches does not nest: a pool is already running")
    _work = work  # type: ignore[assignment]
    try:
        with ProcessPoolExecutor(
            max_workers=min(workers, len(rest)),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_single_threaded,
        ) as pool:
            yield from pool.map(_run, rest)  # type: ignore[misc]
    finally:
        _work = None


def _run(batch: object) -> object:
    assert _work is not None
    return _work(batch)


def _single_threaded() -> None:
    """In a worker: native thread pools on one thread (see the module docstring)."""
    from training import predictor

    predictor.use_threads(1)
    try:
        import faiss
    except ImportError:
        return
    faiss.omp_set_num_threads(1)
