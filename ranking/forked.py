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
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TypeVar

from training import predictor

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
    """Linux only: macOS offers fork, but system libraries there may crash in a child
    forked from a process with threads, which is why Python defaults to spawn there."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def run_batches(work: Callable[[B], R], batches: Sequence[B], workers: int) -> Iterator[R]:
    """`work(batch)` for each batch, in batch order. The first batch runs here (it warms
    the caches every fork then shares). With several workers on a platform that forks,
    `workers - 1` forked processes take the remaining batches from the front while this
    process takes them from the back; otherwise all run here. Both sides pay
    copy-on-write page faults on their first batches after the fork (about 29,000 for
    a batch of 240 users), so this pays off for a few thousand users and more."""
    global _work
    if not batches:
        return
    yield work(batches[0])
    rest = list(batches[1:])
    if workers <= 1 or len(rest) <= 1 or not can_fork():
        yield from map(work, rest)
        return
    if _work is not None:
        raise RuntimeError("run_batches does not nest: a pool is already running")
    _work = work  # type: ignore[assignment]
    threads = predictor.threads()
    predictor.use_threads(1)  # one core each: this process and its forks
    try:
        with ProcessPoolExecutor(
            max_workers=workers - 1,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_single_threaded,
        ) as pool:
            yield from _share(work, rest, pool, workers - 1)
    finally:
        _work = None
        predictor.use_threads(threads)


def _share(
    work: Callable[[B], R], batches: list[B], pool: ProcessPoolExecutor, forks: int
) -> Iterator[R]:
    """Every batch's result, in batch order as soon as all before it are done: the
    forks are kept two batches deep from the front, this process works from the back
    until the two meet."""
    done: dict[int, R] = {}
    sent: dict[int, Future[R]] = {}
    front, back, given = 0, len(batches) - 1, 0
    while front <= back or sent:
        while front <= back and len(sent) < 2 * forks:
            sent[front] = pool.submit(_run, batches[front])  # type: ignore[arg-type]
            front += 1
        if front <= back:
            done[back] = work(batches[back])
            back -= 1
        else:
            wait(sent.values(), return_when=FIRST_COMPLETED)
        for i in [i for i, future in sent.items() if future.done()]:
            done[i] = sent.pop(i).result()
        while given in done:
            yield done.pop(given)
            given += 1


def _run(batch: object) -> object:
    assert _work is not None
    return _work(batch)


def _single_threaded() -> None:
    """In a worker: native thread pools on one thread (see the module docstring)."""
    predictor.use_threads(1)
    try:
        import faiss
    except ImportError:
        return
    faiss.omp_set_num_threads(1)
