"""The local Redis and PostgreSQL servers (circlerank/local_servers.py) as tests use them:
where a server binary is missing the tests that need it skip, unless
CIRCLERANK_REQUIRE_BACKENDS=1 (set by .ci/run, which installs the packages): then they
fail, so CI cannot pass without running them."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

from circlerank import local_servers
from circlerank.local_servers import ServerNotInstalled, free_port, wait_for

__all__ = ["LocalPostgres", "LocalRedis", "free_port", "wait_for"]
REQUIRE_ENV = "CIRCLERANK_REQUIRE_BACKENDS"


def _missing(exc: ServerNotInstalled) -> NoReturn:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{exc}; {REQUIRE_ENV}=1 requires it")
    pytest.skip(str(exc))


class LocalRedis(local_servers.LocalRedis):
    def __init__(self) -> None:
        try:
            super().__init__()
        except ServerNotInstalled as exc:
            _missing(exc)


class LocalPostgres(local_servers.LocalPostgres):
    def __init__(self) -> None:
        try:
            super().__init__()
        except ServerNotInstalled as exc:
            _missing(exc)
