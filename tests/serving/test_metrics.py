"""/metrics counts what the server did, in Prometheus text format."""

from __future__ import annotations

import time

import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

from ranking.strategy import load_strategies
from serving.eventlog import LoggedEvent
from tests.servers import wait_for

from .conftest import AUTH, ServedWorld


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_candidates_removals_and_events(
    api, served_world: ServedWorld
) -> None:
    users = served_world.users[:6]
    with api() as client:
        for user in users:
            client.get("/v1/feed", params={"user_id": user, "limit": 3}, headers=AUTH)
        client.get("/v1/circles/suggestions", params={"user_id": users[0]}, headers=AUTH)
        client.get("/v1/feed", params={"user_id": "x", "limit": 0}, headers=AUTH)
        client.get("/v1/feed", params={"user_id": "x"})
        row = {
            "event_id": "m1",
            "ts": "2026-03-21T10:00:00Z",
            "user_id": users[0],
            "surface": "feed",
            "item_id": "p000001",
            "action": "like",
        }
        client.post("/v1/events", json=[row], headers=AUTH)
        time.sleep(0.3)  # served impressions flush in the background
        version = client.get("/readyz").json()["model_version"]
        samples = _samples(client.get("/metrics").text)
    feed = {"route": "/v1/feed", "strategy": "community"}
    assert _value(samples, "circlerank_requests_total", status="200", **feed) == len(users)
    assert (
        _value(samples, "circlerank_requests_total", route="/v1/feed", strategy="", status="422")
        == 1
    )
    assert (
        _value(samples, "circlerank_requests_total", route="/v1/feed", strategy="", status="401")
        == 1
    )
    assert _value(samples, "circlerank_request_seconds_count", **feed) == len(users)
    assert _value(samples, "circlerank_request_seconds_sum", **feed) > 0
    circle_posts = _value(
        samples, "circlerank_candidates_total", surface="feed", source="circle_posts"
    )
    assert circle_posts > 0
    reasons = {
        dict(k[1]).get("reason") for k in samples if k[0] == "circlerank_filter_removed_total"
    }
    strategies = load_strategies()
    for name, surface in (("community", "feed"), ("suggest", "circle_suggestions")):
        for step in strategies.get(name, surface).build("filters"):
            assert step.reason in reasons
    assert _value(samples, "circlerank_model_info", version=version) == 1
    # one request at a time: every run ranked one user (requests that queue behind a
    # busy run share the next one: tests/ranking/test_combine.py)
    assert _value(samples, "circlerank_run_users_count", surface="feed") == len(users)
    assert _value(samples, "circlerank_run_users_sum", surface="feed") == len(users)
    assert _value(samples, "circlerank_events_written_total", origin="posted") == 1
    assert (
        _value(samples, "circlerank_events_written_total", origin="served") == 3 * len(users) + 20
    )


def test_metrics_count_dead_letters_by_origin_and_show_the_backlog(api) -> None:
    """Rows the event log refuses, posted or served, are counted once dead-lettered
    (called on the event log directly: the edge refuses such ids with 422 first)."""
    row = {
        "ts": pd.Timestamp("2026-03-21T10:00:00Z"),
        "user_id": "u00001",
        "surface": "feed",
        "item_id": "p\ud800",  # a lone surrogate: no backend can store it
        "action": "click",
    }
    with api() as client:
        rt = client.app.state.runtime
        posted = rt.event_log.append_batch(
            [LoggedEvent(event_id="bad", origin="posted", **row), good("ok", "posted")]
        )
        rt.writer.submit(
            [
                good("i1", "served"),
                LoggedEvent(event_id="bad-imp", origin="served", **row | {"action": "impression"}),
                good("i2", "served"),
            ]
        )
        assert wait_for(lambda: rt.writer.pending == 0)
        samples = _samples(client.get("/metrics").text)
        stored = rt.event_log.read()["event_id"].tolist()
    assert [d.event_id for d in posted.dead_lettered] == ["bad"]
    assert stored == ["ok", "i1", "i2"]
    assert _value(samples, "circlerank_events_dead_lettered_total", origin="posted") == 1
    assert _value(samples, "circlerank_events_dead_lettered_total", origin="served") == 1
    assert _value(samples, "circlerank_events_written_total", origin="served") == 2
    assert ("circlerank_impressions_pending", ()) in samples
    assert _value(samples, "circlerank_impressions_pending") == 0
    assert ("circlerank_events_dropped_total", ()) in samples


def good(event_id: str, origin: str) -> LoggedEvent:
    return LoggedEvent(
        event_id=event_id,
        ts=pd.Timestamp("2026-03-21T10:00:00Z"),
        user_id="u00001",
        surface="feed",
        item_id="p000001",
        action="impression" if origin == "served" else "click",
        origin=origin,
    )
