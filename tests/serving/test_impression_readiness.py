"""/readyz watches the served impressions: 503 while too many wait to be written or
while writing them has failed for too long, saying which; 200 again once they flow."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.servers import wait_for

from .conftest import AUTH, ServedWorld


def _ready(client) -> tuple[int, dict]:
    answer = client.get("/readyz")
    return answer.status_code, answer.json()


def test_readyz_is_503_while_impressions_back_up_and_says_why(
    api, served_world: ServedWorld, tmp_path: Path
) -> None:
    with api(ready_max_backlog=5) as client:
        assert _ready(client)[0] == 200
        # another process holds the SQLite write lock: the writer's flush waits on it
        lock = sqlite3.connect(tmp_path / "events.db", isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        try:
            page = client.get(
                "/v1/feed", params={"user_id": served_world.users[0], "limit": 10}, headers=AUTH
            )
            assert len(page.json()["items"]) == 10
            status, body = _ready(client)
        finally:
            lock.rollback()
            lock.close()
        assert status == 503 and body["ready"] is False
        assert body["impressions_pending"] == 10
        assert body["missing"] == [
            "event log: 10 served impressions waiting to be written, more than "
            "CIRCLERANK_READY_MAX_BACKLOG=5"
        ]
        assert wait_for(lambda: _ready(client)[0] == 200)
        assert _ready(client)[1]["impressions_pending"] == 0


def test_readyz_is_503_once_writes_fail_for_too_long_and_recovers(
    api, served_world: ServedWorld, tmp_path: Path
) -> None:
    with api(ready_max_failing_s=0.2) as client:
        # the log's table moved away under the server: every flush fails
        other = sqlite3.connect(tmp_path / "events.db", isolation_level=None)
        other.execute("ALTER TABLE events RENAME TO events_away")
        try:
            client.get("/v1/feed", params={"user_id": served_world.users[1]}, headers=AUTH)
            assert wait_for(lambda: _ready(client)[0] == 503)
            body = _ready(client)[1]
        finally:
            other.execute("ALTER TABLE events_away RENAME TO events")
            other.close()
        assert len(body["missing"]) == 1
        assert body["missing"][0].startswith("event log: writes failing for ")
        assert "more than CIRCLERANK_READY_MAX_FAILING_S=0.2" in body["missing"][0]
        assert "no such table: events" in body["missing"][0]
        assert "no such table: events" in body["event_log_error"]
        assert wait_for(lambda: _ready(client)[0] == 200)
        body = _ready(client)[1]
        assert body["event_log_error"] is None and body["impressions_pending"] == 0
        served = client.app.state.runtime.event_log.read()
    assert (served["user_id"] == served_world.users[1]).sum() == 20  # none lost meanwhile
