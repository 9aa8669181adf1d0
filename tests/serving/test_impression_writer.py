"""The background impression writer against real event logs: a row the log refuses
never stalls the rows behind it, and impressions the log cannot take at shutdown are
spilled to disk and written at the next start."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from serving.eventlog import LoggedEvent, PostgresEventLog, SQLiteEventLog
from serving.eventlog.buffer import BackgroundWriter
from serving.eventlog.spill import SpillDirectory, spill_for
from serving.metrics import Metrics
from tests.servers import LocalPostgres, wait_for

NEVER_S = 3600.0  # a flush interval no test waits for: only close() or flush() write


def impression(i: int, **changes: object) -> LoggedEvent:
    fields: dict[str, object] = {
        "event_id": f"imp{i}",
        "ts": pd.Timestamp("2026-03-21T10:00:00Z") + pd.Timedelta(seconds=i),
        "user_id": "u00001",
        "surface": "feed",
        "item_id": f"p{i:06d}",
        "action": "impression",
        "origin": "served",
        "request_id": f"r{i // 5}",
        "position": i % 5,
        "propensity": 1.0,
        "arm": "control",
        "strategy": "community",
        "model_version": "v1",
        "score": 0.5,
    }
    return LoggedEvent(**(fields | changes))  # type: ignore[arg-type]


def metric(metrics: Metrics, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def observed_writer(log: SQLiteEventLog | PostgresEventLog, metrics: Metrics, **kw: object):
    return BackgroundWriter(
        log,
        on_written=metrics.events.labels(origin="served").inc,
        on_dropped=metrics.events_dropped.inc,
        on_backlog=metrics.impressions_pending.set,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def postgres() -> Iterator[LocalPostgres]:
    server = LocalPostgres()
    server.start()
    yield server
    server.close()


@pytest.fixture
def pg_url(postgres: LocalPostgres) -> str:
    with psycopg.connect(postgres.url, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS events")
        db.execute("DROP TABLE IF EXISTS dead_letters")
    return postgres.url


def test_a_nul_impression_does_not_stall_postgresql_logging(pg_url: str) -> None:
    """The issue's case: `/v1/feed?user_id=%00x` once logged a row PostgreSQL refuses,
    every later flush failed on it and the oldest rows were dropped at 100k."""
    metrics = Metrics()
    log = PostgresEventLog(pg_url, on_dead_lettered=metrics.dead_lettered)
    writer = observed_writer(log, metrics, interval_s=0.05)
    try:
        writer.submit([impression(i) for i in range(3)])
        writer.submit([impression(3, user_id="\x00x"), impression(4, user_id="\x00x")])
        writer.submit([impression(i) for i in range(5, 9)])
        assert wait_for(lambda: writer.pending == 0)
        writer.submit([impression(9)])
        assert wait_for(lambda: writer.pending == 0)
        assert writer.last_error is None
        stored = log.read()["event_id"].tolist()
        letters = log.dead_letters()
    finally:
        writer.close()
        log.close()
    assert stored == [f"imp{i}" for i in (0, 1, 2, 5, 6, 7, 8, 9)]
    assert letters["event_id"].tolist() == ["imp3", "imp4"]
    assert letters["reason"].str.contains("NUL").all()
    assert metric(metrics, "circlerank_events_dead_lettered_total", origin="served") == 2
    assert metric(metrics, "circlerank_events_written_total", origin="served") == 8
    assert metric(metrics, "circlerank_impressions_pending") == 0


def test_a_row_sqlite_refuses_is_dead_lettered_and_its_batch_stored(tmp_path: Path) -> None:
    metrics = Metrics()
    log = SQLiteEventLog(tmp_path / "events.db", on_dead_lettered=metrics.dead_lettered)
    writer = observed_writer(log, metrics, interval_s=NEVER_S)
    rows = [impression(i) for i in range(50)]
    rows[17] = impression(17, item_id="p\ud800")  # a lone surrogate: no UTF-8 for it
    writer.submit(rows)
    appended = writer.flush()
    writer.close()
    stored = log.read()["event_id"].tolist()
    log.close()
    assert [d.index for d in appended.dead_lettered] == [17]
    assert stored == [f"imp{i}" for i in range(50) if i != 17]
    assert metric(metrics, "circlerank_events_dead_lettered_total", origin="served") == 1
    assert metric(metrics, "circlerank_events_written_total", origin="served") == 49


def locked(path: Path) -> sqlite3.Connection:
    """A second connection holding the write lock of the SQLite file: every write of
    another connection waits for it, then fails with "database is locked"."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    return db


def test_close_spills_what_sqlite_cannot_take_and_the_next_start_writes_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.db"
    log = SQLiteEventLog(path, busy_timeout_s=0.05)
    writer = BackgroundWriter(log, interval_s=NEVER_S, spill=spill_for(log, None))
    writer.submit([impression(i) for i in range(30)])
    lock = locked(path)
    writer.close()  # the last write fails: the rows go to disk, and close does not raise
    log.close()  # so whoever closes the writer closes the rest
    lock.rollback()
    lock.close()
    spilled = list(tmp_path.glob("events.db.unsent-*.jsonl"))
    assert len(spilled) == 1 and len(spilled[0].read_text().splitlines()) == 30
    untouched = SQLiteEventLog(path)
    assert untouched.count() == 0
    untouched.close()

    again = SQLiteEventLog(path)
    restarted = BackgroundWriter(again, interval_s=NEVER_S, spill=spill_for(again, None))
    assert restarted.pending == 30  # queued ahead of any new impression
    restarted.submit([impression(30)])
    restarted.flush()
    restarted.close()
    stored = again.read()
    again.close()
    assert stored["event_id"].tolist() == [f"imp{i}" for i in range(31)]
    assert stored["user_id"].tolist() == ["u00001"] * 31
    assert not list(tmp_path.glob("events.db.unsent-*"))  # written, so the spill is gone


def test_a_postgres_down_at_shutdown_loses_no_impression(
    postgres: LocalPostgres, pg_url: str, tmp_path: Path
) -> None:
    spill_dir = tmp_path / "spill"
    log = PostgresEventLog(pg_url, connect_timeout_s=1)
    writer = BackgroundWriter(log, interval_s=NEVER_S, spill=spill_for(log, spill_dir))
    writer.submit([impression(i, user_id=f"u{i}\u00e9") for i in range(20)])
    postgres.stop(kill=True)
    try:
        writer.close()
        log.close()
    finally:
        postgres.start()
    assert len(list(spill_dir.glob("unsent-impressions-*.jsonl"))) == 1

    again = PostgresEventLog(pg_url)
    restarted = BackgroundWriter(again, interval_s=0.05, spill=spill_for(again, spill_dir))
    assert wait_for(lambda: restarted.pending == 0)
    restarted.close()
    stored = again.read()
    again.close()
    assert stored["event_id"].tolist() == [f"imp{i}" for i in range(20)]
    assert stored["user_id"].tolist() == [f"u{i}\u00e9" for i in range(20)]
    assert not list(spill_dir.iterdir())


def test_a_restart_that_cannot_write_either_spills_the_restored_rows_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.db"
    spill = SpillDirectory(tmp_path / "spill", "events.db.unsent-")
    spill.save([impression(i) for i in range(5)])
    log = SQLiteEventLog(path, busy_timeout_s=0.05)
    lock = locked(path)
    writer = BackgroundWriter(log, interval_s=NEVER_S, spill=spill)
    writer.submit([impression(5)])
    writer.close()
    log.close()
    lock.rollback()
    lock.close()
    files = list((tmp_path / "spill").iterdir())
    assert len(files) == 1  # the claimed file replaced by one holding all six rows
    assert len(files[0].read_text().splitlines()) == 6


def test_a_spill_is_claimed_by_one_writer_only(tmp_path: Path) -> None:
    """Two workers starting together: each spilled row is queued by one of them."""
    spill = SpillDirectory(tmp_path, "events.db.unsent-")
    spill.save([impression(i) for i in range(4)])
    spill.save([impression(i) for i in range(4, 6)])
    first, first_files = spill.claim()
    second, second_files = spill.claim()
    assert [e.event_id for e in first] == [f"imp{i}" for i in range(6)]
    assert first[0] == impression(0)  # every field, types included, read back
    assert second == [] and second_files == []
    spill.release(first_files)
    assert not list(tmp_path.iterdir())


def test_a_spill_with_an_unreadable_line_is_kept_for_an_operator(tmp_path: Path) -> None:
    spill = SpillDirectory(tmp_path, "events.db.unsent-")
    path = spill.save([impression(0), impression(1)])
    path.write_text(path.read_text() + "{not json\n")
    events, claimed = spill.claim()
    assert [e.event_id for e in events] == ["imp0", "imp1"]
    assert claimed == []
    assert [p.name.endswith(".unreadable") for p in tmp_path.iterdir()] == [True]


def test_the_drop_oldest_cap_and_the_backlog_show_in_metrics(tmp_path: Path) -> None:
    metrics = Metrics()
    log = SQLiteEventLog(tmp_path / "events.db")
    writer = observed_writer(log, metrics, interval_s=NEVER_S, max_pending=4)
    writer.submit([impression(i) for i in range(6)])
    assert writer.pending == 4
    assert metric(metrics, "circlerank_events_dropped_total") == 2
    assert metric(metrics, "circlerank_impressions_pending") == 4
    writer.flush()
    assert metric(metrics, "circlerank_impressions_pending") == 0
    writer.close()
    assert log.read()["event_id"].tolist() == [f"imp{i}" for i in range(2, 6)]
    log.close()
