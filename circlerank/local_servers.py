"""Real local Redis and PostgreSQL servers, for the backend tests and benchmarks:
started from the system packages in a temporary directory on a free loopback port,
stopped (or killed, for fault tests) and restarted by their caller. A missing server
binary raises ServerNotInstalled (tests/servers.py turns it into a skip or a failure).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .errors import CircleRankError


class ServerNotInstalled(CircleRankError):
    """A server binary this needs is not on the machine."""


def missing(what: str) -> None:
    raise ServerNotInstalled(
        f"{what} is not installed (Debian: apt-get install redis-server postgresql)"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], object], timeout_s: float = 10.0, every_s: float = 0.1) -> bool:
    """Whether `check()` turns true within `timeout_s`, asking every `every_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every_s)
    return False


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within 30 s")


class _Server:
    what = "server"

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def _command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        # its own process group, so a kill takes its children too (PostgreSQL's backends)
        self.process = subprocess.Popen(
            self._command(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for_port(self.port, self.process, self.what)
        self._ready()

    def _ready(self) -> None:
        return None

    stop_signal = signal.SIGTERM

    def stop(self, kill: bool = False) -> None:
        """A clean shutdown, or (kill) SIGKILL to every process of the server: a crash."""
        if self.process is None:
            return
        if kill:
            os.killpg(self.process.pid, signal.SIGKILL)
        else:
            self.process.send_signal(self.stop_signal)
        self.process.wait(timeout=30)
        self.process = None


class LocalRedis(_Server):
    what = "redis-server"

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            missing("redis-server")
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="circlerank-redis-"))
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def _command(self) -> list[str]:
        return [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class LocalPostgres(_Server):
    """A throwaway cluster with trust auth on loopback. PostgreSQL refuses to run as
    root, so under root it runs as the `postgres` user the package creates."""

    what = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown: SIGTERM would wait for clients to leave

    def __init__(self) -> None:
        bin_dir = _postgres_bin()
        if bin_dir is None:
            missing("PostgreSQL (initdb)")
        assert bin_dir is not None
        super().__init__()
        self.bin = bin_dir
        self.directory = Path(tempfile.mkdtemp(prefix="circlerank-pg-"))
        self.data = self.directory / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            # setpriv execs (runuser would fork, and a signal to it not reach postgres)
            self.as_user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
            shutil.chown(self.directory, "postgres")
        self.directory.chmod(0o755)
        subprocess.run(
            [*self.as_user, str(self.bin / "initdb"), "-D", str(self.data), "-U", "circlerank",
             "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"postgresql://circlerank@127.0.0.1:{self.port}/postgres"

    def _command(self) -> list[str]:
        return [
            *self.as_user, str(self.bin / "postgres"), "-D", str(self.data),
            "-p", str(self.port), "-k", str(self.directory),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on",
        ]  # fmt: skip

    def _ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
