"""No password shows: /readyz (unauthenticated), the logs and the error messages print
backend URLs with the password as ***."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from circlerank.redact import masked_text, masked_url
from tests.servers import LocalPostgres, LocalRedis, wait_for

from .conftest import AUTH, ServedWorld

pytestmark = pytest.mark.slow

REDIS_PASSWORD = "r3dis-Secret"
PG_PASSWORD = "pg-Secret"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://user:p@ss@host/0", "redis://user:***@host/0"),
        ("postgresql://u:pw@h:5432/db?sslmode=require", "postgresql://u:***@h:5432/db?sslmode=require"),
        ("postgresql://u@h/db?password=pw&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("sqlite:///var/lib/events.db", "sqlite:///var/lib/events.db"),
        ("redis://host:6379/0", "redis://host:6379/0"),
    ],
)  # fmt: skip
def test_a_url_shows_without_its_password(url: str, shown: str) -> None:
    assert masked_url(url) == shown


def test_urls_inside_a_message_show_without_their_passwords() -> None:
    text = "online store 'redis://:pw@h:1/0' is unavailable; also host=h password=pw2"
    assert masked_text(text) == (
        "online store 'redis://:***@h:1/0' is unavailable; also host=h password=***"
    )


class PasswordRedis(LocalRedis):
    def _command(self) -> list[str]:
        return [*super()._command(), "--requirepass", REDIS_PASSWORD]


def test_readyz_and_the_logs_never_show_a_password(
    api: Callable[..., object],
    served_world: ServedWorld,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    redis, postgres = PasswordRedis(), LocalPostgres()
    redis.start()
    postgres.start()  # trust auth: the password is accepted and ignored
    redis_url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{redis.port}/0"
    pg_url = postgres.url.replace("circlerank@", f"circlerank:{PG_PASSWORD}@")
    caplog.set_level(logging.INFO)
    seen = []
    try:
        settings = {
            "online_store": redis_url,
            "event_log": pg_url,
            "store_retry_s": 0.1,
            "spill_dir": tmp_path / "spill",  # the impressions waiting at shutdown go here
        }
        with api(**settings) as client:  # type: ignore[attr-defined]
            seen.append(client.get("/readyz").text)
            redis.stop(kill=True)
            postgres.stop(kill=True)
            feed = client.get("/v1/feed", params={"user_id": served_world.users[0]}, headers=AUTH)
            assert feed.status_code == 200  # the fallback, its impressions waiting

            def failing() -> bool:
                body = client.get("/readyz").json()
                seen.append(str(body))
                return bool(body["event_log_error"]) and not body["online_store_available"]

            assert wait_for(failing)
            seen.append(client.get("/metrics").text)
    finally:
        redis.close()
        postgres.close()
    ready = seen[0]
    assert f"redis://:***@127.0.0.1:{redis.port}/0" in ready
    assert "circlerank:***@127.0.0.1" in ready
    assert len(list((tmp_path / "spill").glob("unsent-impressions-*.jsonl"))) == 1
    shown = "\n".join([*seen, caplog.text])
    assert "impression log" in caplog.text and "unavailable" in shown  # the errors did show
    assert REDIS_PASSWORD not in shown and PG_PASSWORD not in shown
