"""Backend outages while the API serves: Redis gone (the feed falls back, /readyz
says so, both recover), PostgreSQL restarted (no acknowledged event is lost, even
across a SIGKILL of the API)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd
import pytest

from serving.eventlog import LoggedEvent, PostgresEventLog
from tests.servers import LocalPostgres, LocalRedis, wait_for

from .conftest import AUTH, ServedWorld
from .server_process import EventSender, free_port, start_server

pytestmark = pytest.mark.slow


def test_a_redis_outage_degrades_the_feed_and_recovers(
    api: Callable[..., object], served_world: ServedWorld
) -> None:
    redis = LocalRedis()
    redis.start()
    try:
        with api(online_store=redis.url, store_retry_s=0.2) as client:  # type: ignore[attr-defined]
            params = {"user_id": served_world.users[3], "limit": 10}
            before = client.get("/v1/feed", params=params, headers=AUTH).json()
            assert before["strategy"] == "community"
            assert client.get("/readyz").json()["online_store"] == redis.url

            redis.stop(kill=True)
            pages = [client.get("/v1/feed", params=params, headers=AUTH) for _ in range(30)]
            assert [p.status_code for p in pages] == [200] * 30  # no 5xx storm
            assert {(p.json()["strategy"], p.json()["arm"]) for p in pages} == {
                ("popularity", "fallback")
            }
            assert all(p.json()["items"] for p in pages)
            ready = client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["online_store_available"] is False
            assert "unavailable" in ready.json()["online_store_error"]
            metrics = client.get("/metrics").text
            assert 'circlerank_fallback_pages_total{surface="feed"} 30.0' in metrics

            # back, but empty (no persistence): the server loads its snapshot again
            redis.start()
            time.sleep(0.3)  # the breaker's retry interval
            after = client.get("/v1/feed", params=params, headers=AUTH).json()
            assert after["strategy"] == "community"
            assert [i["item_id"] for i in after["items"]] == [i["item_id"] for i in before["items"]]
            assert client.get("/readyz").json()["online_store_available"] is True
    finally:
        redis.close()


def test_no_acknowledged_event_is_lost_across_a_postgres_restart_and_an_api_kill(
    served_world: ServedWorld,
) -> None:
    postgres = LocalPostgres()
    postgres.start()
    port = free_port()
    base, user = f"http://127.0.0.1:{port}", served_world.users[0]
    server = start_server(served_world, postgres.url, port)
    try:
        with EventSender(port) as sender:
            sender.wait_for(300)
            postgres.stop(kill=True)  # the database crashes mid-stream
            # a feed page still answers; its impressions wait, and /readyz says why
            feed = httpx.get(f"{base}/v1/feed", params={"user_id": user}, headers=AUTH)
            assert feed.status_code == 200
            assert wait_for(lambda: httpx.get(f"{base}/readyz").json()["event_log_error"])
            time.sleep(1.0)
            during = dict(sender.statuses)
            postgres.start()
            sender.wait_for(len(sender.acknowledged) + 300)
            assert wait_for(lambda: httpx.get(f"{base}/readyz").json()["event_log_error"] is None)
            server.send_signal(signal.SIGKILL)  # then the API, batches in flight
            server.wait()
        assert during.get(503, 0) > 0, f"no batch was refused while the database was down: {during}"
        assert set(sender.statuses) <= {202, 503}, sender.statuses
        restarted = start_server(served_world, postgres.url, port)
        restarted.terminate()
        restarted.wait(timeout=30)
        log = PostgresEventLog(postgres.url)
        stored = set(log.read()["event_id"])
        log.close()
        missing = set(sender.acknowledged) - stored
        assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
    finally:
        if server.poll() is None:
            server.kill()
        postgres.close()


def test_served_pages_are_identical_from_redis_and_from_the_files(
    api: Callable[..., object], served_world: ServedWorld, tmp_path: Path
) -> None:
    redis = LocalRedis()
    redis.start()
    try:
        pages = []
        for store in (None, redis.url):
            with api(online_store=store) as client:  # type: ignore[attr-defined]
                pages.append(
                    [
                        client.get("/v1/feed", params={"user_id": u}, headers=AUTH).json()["items"]
                        for u in served_world.users[:15]
                    ]
                )
        assert pages[0] == pages[1]
    finally:
        redis.close()


def test_a_nul_row_on_postgresql_is_dead_lettered_and_the_server_stays_ready(
    api: Callable[..., object], served_world: ServedWorld
) -> None:
    """Once one NUL stalled every later flush: the impressions behind it waited, the
    oldest were dropped at 100k, and /readyz said 200. The edge now refuses NUL with
    422, so the event log is called directly, as a row that got past it would be."""
    postgres = LocalPostgres()
    postgres.start()
    user = served_world.users[2]
    try:
        with api(event_log=postgres.url) as client:  # type: ignore[attr-defined]
            rt = client.app.state.runtime
            posted = rt.event_log.append_batch([_row("p-nul", "posted", "\x00x"), _row("p-ok")])
            rt.writer.submit([_row("s-nul", "served", "\x00x")])
            page = client.get("/v1/feed", params={"user_id": user, "limit": 5}, headers=AUTH)
            assert wait_for(lambda: rt.writer.pending == 0)
            ready = client.get("/readyz")
            metrics = client.get("/metrics").text
            stored = rt.event_log.read()
            letters = rt.event_log.dead_letters()
    finally:
        postgres.close()
    assert page.status_code == 200
    assert [d.event_id for d in posted.dead_lettered] == ["p-nul"] and posted.new == 1
    assert ready.status_code == 200 and ready.json()["event_log_error"] is None
    assert (stored["user_id"] == user).sum() == 5  # the page behind the NUL row is logged
    assert sorted(letters["event_id"]) == ["p-nul", "s-nul"]
    assert letters["reason"].str.contains("NUL").all()
    assert 'circlerank_events_dead_lettered_total{origin="posted"} 1.0' in metrics
    assert 'circlerank_events_dead_lettered_total{origin="served"} 1.0' in metrics


def _row(event_id: str, origin: str = "posted", user_id: str = "u00001") -> LoggedEvent:
    return LoggedEvent(
        event_id=event_id,
        ts=pd.Timestamp("2026-03-21T10:00:00Z"),
        user_id=user_id,
        surface="feed",
        item_id="p000001",
        action="impression" if origin == "served" else "click",
        origin=origin,
    )
