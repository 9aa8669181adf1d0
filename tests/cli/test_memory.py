"""keep_freed_memory: large arrays come from the reusable heap, not one mmap each."""

from __future__ import annotations

import ctypes
import os
import platform
import subprocess
import sys
import textwrap

import pytest

# In a fresh interpreter: how many chunks glibc mmapped (mallinfo2().hblks) for one
# 100 MiB array.
PROBE = textwrap.dedent(
    """
    import ctypes, sys
    import numpy as np
    from circlerank.memory import keep_freed_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
            "fsmblks", "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2
    applied = keep_freed_memory() if sys.argv[1] == "keep" else False
    before = libc.mallinfo2().hblks
    big = np.ones(100 * 2**20 // 8)
    during = libc.mallinfo2().hblks
    print(applied, during - before)
    del big
    """
)


def _mmapped_chunks(mode: str) -> tuple[str, int]:
    # no allocator settings from this process: a Dask nanny started by an earlier test
    # of the session writes its pre-spawn-environ (MALLOC_TRIM_THRESHOLD_=65536) into
    # os.environ, and any such setting makes keep_freed_memory stand aside
    # (test_user_malloc_settings_win)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.pop("GLIBC_TUNABLES", None)
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True, env=env
    ).stdout.split()
    return out[0], int(out[1])


def _has_mallinfo2() -> bool:
    return sys.platform == "linux" and hasattr(ctypes.CDLL(None), "mallinfo2")


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc" or not _has_mallinfo2(), reason="glibc >= 2.33 only"
)
def test_large_arrays_come_from_the_heap_once_applied() -> None:
    assert _mmapped_chunks("default") == ("False", 1)  # glibc's own choice: one mmap
    assert _mmapped_chunks("keep") == ("True", 0)


def test_user_malloc_settings_win(monkeypatch: pytest.MonkeyPatch) -> None:
    from circlerank.memory import keep_freed_memory

    monkeypatch.setenv("MALLOC_MMAP_MAX_", "65536")
    assert keep_freed_memory() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_server_arenas_are_capped_here_and_in_started_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from circlerank.memory import SERVER_ARENAS, limit_malloc_arenas

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert limit_malloc_arenas() == {"MALLOC_ARENA_MAX": str(SERVER_ARENAS)}
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")  # the user's choice wins
    assert limit_malloc_arenas() == {}
