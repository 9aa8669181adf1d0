"""The event log contract, on SQLite and on PostgreSQL: durable, append-only,
idempotent on event_id, read back in arrival order with the same values and types."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from circlerank.errors import EventLogError
from serving.eventlog import COLUMNS, EventLog, LoggedEvent, contract_events, open_event_log

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty event log of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    with psycopg.connect(server.url, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS events")
    yield server.url


@pytest.fixture
def log(log_url: str) -> Iterator[EventLog]:
    opened = open_event_log(log_url)
    yield opened
    opened.close()


def event(i: int, **changes: object) -> LoggedEvent:
    fields: dict[str, object] = {
        "event_id": f"e{i}",
        "ts": pd.Timestamp("2026-03-01T10:00:00Z") + pd.Timedelta(microseconds=1_000_003 * i),
        "user_id": f"u{i % 7}",
        "surface": "feed",
        "item_id": f"p{i}",
        "action": "impression" if i % 3 else "click",
        "origin": "served" if i % 2 else "posted",
        "request_id": f"r{i // 4}" if i % 2 else None,
        "position": i % 10 if i % 2 else None,
        "propensity": 1.0 / (1 + i % 5) if i % 2 else None,
        "arm": "control" if i % 2 else None,
        "experiment": "exp1" if i % 2 else None,
        "strategy": "community" if i % 2 else None,
        "model_version": "v1" if i % 2 else None,
        "score": 0.25 * i if i % 2 else None,
    }
    fields.update(changes)
    return LoggedEvent(**fields)  # type: ignore[arg-type]


def as_rows(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    """Rows as plain values (NA of any kind as None) for comparing across backends."""
    return [
        tuple(None if pd.isna(v) else v for v in row)
        for row in frame[list(COLUMNS)].itertuples(index=False)
    ]


def test_appended_events_read_back_exactly_in_arrival_order(log: EventLog) -> None:
    events = [event(i) for i in range(25)]
    assert log.append(events[:10]) == 10
    assert log.append(events[10:]) == 15
    got = log.read()
    assert list(got.columns) == list(COLUMNS)
    assert str(got["ts"].dtype) == "datetime64[us, UTC]"
    assert as_rows(got) == [
        tuple(None if v is None else v for v in (getattr(e, c) for c in COLUMNS)) for e in events
    ]
    assert log.count() == 25


def test_appending_is_idempotent_on_event_id(log: EventLog) -> None:
    assert log.append([event(1), event(2)]) == 2
    # a repeat, a changed repeat (never overwrites) and a duplicate inside one batch
    assert log.append([event(2), event(1, action="hide"), event(3), event(3)]) == 1
    got = log.read()
    assert got["event_id"].tolist() == ["e1", "e2", "e3"]
    assert got.loc[got["event_id"] == "e1", "action"].item() == event(1).action != "hide"
    assert log.append([]) == 0


def test_events_survive_closing_and_reopening(log_url: str) -> None:
    first = open_event_log(log_url)
    first.append([event(i) for i in range(5)])
    first.close()
    again = open_event_log(log_url)
    try:
        assert again.read()["event_id"].tolist() == [f"e{i}" for i in range(5)]
    finally:
        again.close()


def test_concurrent_appends_from_threads_lose_nothing(log: EventLog) -> None:
    def write(start: int) -> None:
        for i in range(start, start + 40, 4):
            log.append([event(j) for j in range(i, i + 4)])

    threads = [threading.Thread(target=write, args=(t * 40,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got = log.read()
    assert sorted(got["event_id"]) == sorted(f"e{i}" for i in range(160))
    assert got["event_id"].is_unique


def test_two_handles_share_one_log(log_url: str) -> None:
    a, b = open_event_log(log_url), open_event_log(log_url)
    try:
        a.append([event(1)])
        b.append([event(1), event(2)])
        assert a.count() == b.count() == 2
    finally:
        a.close()
        b.close()


def test_contract_events_are_the_same_table_on_every_backend(
    tmp_path: Path, postgres_server: object
) -> None:
    tables = []
    for url in (f"sqlite:///{tmp_path / 'a.db'}", postgres_server.url):  # type: ignore[attr-defined]
        if url.startswith("postgresql"):
            with psycopg.connect(url, autocommit=True) as db:
                db.execute("DROP TABLE IF EXISTS events")
        log = open_event_log(url)
        log.append([event(i) for i in range(12)])
        tables.append(contract_events(log))
        log.close()
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_an_unreachable_database_is_an_event_log_error() -> None:
    from tests.servers import free_port

    with pytest.raises(EventLogError, match="cannot open the event log"):
        open_event_log(f"postgresql://nobody@127.0.0.1:{free_port()}/none")


def test_a_password_never_shows_in_messages() -> None:
    from tests.servers import free_port

    url = f"postgresql://user:s3cret@127.0.0.1:{free_port()}/db"
    with pytest.raises(EventLogError) as caught:
        open_event_log(url)
    assert "s3cret" not in str(caught.value)
