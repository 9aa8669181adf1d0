"""Batches in forked workers: every result, in batch order, from more than one process."""

from __future__ import annotations

import os

import pytest

from ranking.forked import can_fork, run_batches

pytestmark = pytest.mark.skipif(not can_fork(), reason="this platform does not fork")


def square_with_pid(batch: list[int]) -> tuple[list[int], int]:
    return [x * x for x in batch], os.getpid()


def test_results_come_in_batch_order_from_this_process_and_a_fork() -> None:
    batches = [list(range(i, i + 3)) for i in range(0, 60, 3)]
    got = list(run_batches(square_with_pid, batches, workers=2))
    assert [squares for squares, _ in got] == [[x * x for x in b] for b in batches]
    pids = {pid for _, pid in got}
    assert os.getpid() in pids and len(pids) == 2
    assert got[0][1] == os.getpid()  # the first batch warms this process's caches


def test_one_worker_runs_everything_here() -> None:
    got = list(run_batches(square_with_pid, [[1], [2], [3]], workers=1))
    assert [pid for _, pid in got] == [os.getpid()] * 3


def fail_on_seven(batch: list[int]) -> list[int]:
    if 7 in batch:
        raise ValueError(f"bad batch {batch}")
    return batch


def test_an_error_in_a_fork_reaches_the_caller() -> None:
    batches = [[i] for i in range(12)]
    with pytest.raises(ValueError, match=r"bad batch \[7\]"):
        list(run_batches(fail_on_seven, batches, workers=2))
    # the pool is gone: the next run starts cleanly
    assert list(run_batches(fail_on_seven, [[1], [2], [3]], workers=2)) == [[1], [2], [3]]
