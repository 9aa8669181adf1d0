"""The event log contract, on SQLite and on PostgreSQL: durable, append-only,
idempotent on event_id, read back in arrival order with the same values and types."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from circlerank.errors import EventLogError
from serving.eventlog import COLUMNS, EventLog, LoggedEvent, contract_events, open_event_log
from serving.eventlog.base import event_from_json

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
        db.execute("DROP TABLE IF EXISTS dead_letters")
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


# rows no backend can store (a lone surrogate has no UTF-8) and rows PostgreSQL's text
# refuses (NUL); SQLite stores a NUL as it is
SURROGATE = "p\ud800x"
NUL = "u\x00x"


def test_a_refused_row_is_dead_lettered_and_the_rows_around_it_are_stored(
    log: EventLog, log_url: str
) -> None:
    events = [event(i) for i in range(12)]
    events[4] = event(4, user_id=NUL)  # what `/v1/feed?user_id=%00x` used to log
    events[9] = event(9, item_id=SURROGATE)
    refused = {4, 9} if log_url.startswith("postgresql") else {9}

    appended = log.append_batch(events)

    assert appended.new == 12 - len(refused)
    assert [d.index for d in appended.dead_lettered] == sorted(refused)
    assert [d.event_id for d in appended.dead_lettered] == [f"e{i}" for i in sorted(refused)]
    stored = [e for i, e in enumerate(events) if i not in refused]
    assert as_rows(log.read()) == [tuple(getattr(e, c) for c in COLUMNS) for e in stored]
    letters = log.dead_letters()
    assert letters["event_id"].tolist() == [f"e{i}" for i in sorted(refused)]
    assert list(map(event_from_json, letters["event"])) == [events[i] for i in sorted(refused)]
    assert "surrogate" in letters["reason"].iloc[-1]
    assert str(letters["at"].dtype) == "datetime64[us, UTC]"


def test_postgresql_dead_letters_a_nul_row_and_keeps_logging(postgres_server: object) -> None:
    """The issue's case: one NUL used to fail every later flush of the whole log."""
    url = postgres_server.url  # type: ignore[attr-defined]
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS events")
        db.execute("DROP TABLE IF EXISTS dead_letters")
    log = open_event_log(url)
    try:
        first = log.append_batch([event(1), event(2, user_id=NUL), event(3)])
        later = log.append_batch([event(4), event(5)])
        # a retried batch (after an outage mid-way) stores its dead letter once
        again = log.append_batch([event(1), event(2, user_id=NUL), event(3)])
        letters = log.dead_letters()
        stored = log.read()["event_id"].tolist()
    finally:
        log.close()
    assert (first.new, later.new, again.new) == (2, 2, 0)
    assert [d.event_id for d in first.dead_lettered] == ["e2"]
    assert "NUL" in first.dead_lettered[0].reason
    assert stored == ["e1", "e3", "e4", "e5"]
    assert letters["event_id"].tolist() == ["e2"]
    assert event_from_json(letters["event"].item()).user_id == NUL


def test_a_broken_log_raises_and_dead_letters_nothing(log: EventLog, log_url: str) -> None:
    """Only a row's values are dead-lettered: a log that cannot write at all (here its
    table renamed away under it) raises, so the caller keeps the rows and retries."""
    log.append([event(0)])
    rename = "ALTER TABLE events RENAME TO {}"
    if log_url.startswith("postgresql"):
        with psycopg.connect(log_url, autocommit=True) as db:
            db.execute(rename.format("events_away"))
            try:
                with pytest.raises(EventLogError, match="cannot append"):
                    log.append([event(1), event(2, user_id=NUL), event(3)])
            finally:
                db.execute("ALTER TABLE events_away RENAME TO events")
    else:
        db = sqlite3.connect(log_url.removeprefix("sqlite:///"))
        db.execute(rename.format("events_away"))
        db.commit()
        try:
            with pytest.raises(EventLogError, match="cannot append"):
                log.append([event(1), event(2, item_id=SURROGATE), event(3)])
        finally:
            db.execute("ALTER TABLE events_away RENAME TO events")
            db.commit()
            db.close()
    assert log.dead_letters().empty
    assert log.read()["event_id"].tolist() == ["e0"]


def test_appends_are_durable_on_commit_whatever_the_session_default(
    log_url: str,
) -> None:
    """Read back from the log's own connection: SQLite in WAL mode with
    synchronous=FULL; PostgreSQL with synchronous_commit=on even when the URL asks for
    off (as a server default or a role setting could)."""
    if log_url.startswith("postgresql"):
        lax = log_url + "?options=-c%20synchronous_commit%3Doff"
        with psycopg.connect(lax) as plain:
            assert plain.execute("SHOW synchronous_commit").fetchone() == ("off",)
        expected = {"synchronous_commit": "on"}
    else:
        lax = log_url
        expected = {"journal_mode": "wal", "synchronous": "full"}
    log = open_event_log(lax)
    try:
        assert log.durability() == expected
    finally:
        log.close()
