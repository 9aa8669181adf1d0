"""Backends under one contract: every test here runs against each backend, the
embedded defaults (SQLite file, memory-mapped files) and the scale-out servers (Redis,
PostgreSQL), which tests/servers.py starts from the system packages on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import LocalPostgres, LocalRedis


@pytest.fixture(scope="session")
def redis_server() -> Iterator[LocalRedis]:
    server = LocalRedis()
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    server = LocalPostgres()
    server.start()
    yield server
    server.close()
