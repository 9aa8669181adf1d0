"""Load a data directory: read every table, apply the contract, quarantine bad rows.

This is the only door through which data enters the engine. Accepted rows come back
typed; every other row is written to `<quarantine_dir>/<table>.parquet` with a
`reason` and its 0-based `row` in the file, and counted in the report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from circlerank.errors import ConfigError, MissingTableError, OutputError
from circlerank.progress import step

from .reader import read_table, table_file
from .report import TableReport, ValidationReport
from .rules import judge_rows
from .schema import TABLE_BY_NAME, TABLES, Need, TableSpec

log = logging.getLogger(__name__)

QUARANTINE_SUBDIR = "_quarantine"


@dataclass
class ContractData:
    """The accepted rows of every table present, plus the report of how they were read."""

    tables: dict[str, pd.DataFrame]
    report: ValidationReport

    def has(self, table: str) -> bool:
        return table in self.tables

    def __getitem__(self, table: str) -> pd.DataFrame:
        if table not in self.tables:
            raise KeyError(f"table {table!r} is absent; present: {', '.join(self.tables)}")
        return self.tables[table]


def data_end(data: ContractData) -> pd.Timestamp:
    """Just after the latest timestamp in the data: the instant a replayed or simulated
    world is served or trained up to (rows strictly before it count)."""
    from .schema import TABLES

    latest = pd.Timestamp(0, tz="UTC")
    for spec in TABLES:
        if not data.has(spec.name):
            continue
        for column in spec.timestamp_columns:
            value = data[spec.name][column].max()
            if pd.notna(value):
                latest = max(latest, value)
    return latest + pd.Timedelta(seconds=1)


def parse_as_of(value: str | pd.Timestamp | None, flag: str = "--as-of") -> pd.Timestamp:
    """The run's as-of time, UTC-aware; None means now. Naive values are read as UTC.
    `flag` is what the user typed the value as, for the error message."""
    if value is None:
        return pd.Timestamp.now(tz="UTC")
    try:
        ts = pd.Timestamp(value)
    except (ValueError, OverflowError):
        ts = pd.NaT
    if pd.isna(ts):  # pandas reads "", "nan" and "NaT" as a missing time
        raise ConfigError(
            f"{flag}: cannot read {str(value)!r} as a time; give an ISO 8601 date or "
            "timestamp such as 2026-03-01 or 2026-03-01T12:00:00Z"
        )
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _locate(data_dir: Path, wanted: Iterable[TableSpec]) -> tuple[dict[str, Path], list[str]]:
    if not data_dir.is_dir():
        raise ConfigError(f"data directory {data_dir} does not exist")
    found: dict[str, Path] = {}
    absent: list[str] = []
    for spec in wanted:
        path = table_file(data_dir, spec.name)
        if path is not None:
            found[spec.name] = path
        elif spec.need is Need.ALWAYS:
            raise MissingTableError(str(data_dir), spec.name)
        else:
            absent.append(spec.name)
    for name in found:
        for needed in TABLE_BY_NAME[name].requires:
            if needed not in found:
                raise MissingTableError(str(data_dir), needed, f"required when {name} is present")
    return found, absent


def _prepare_quarantine(quarantine_dir: Path, absent: list[str]) -> None:
    """Create the directory and drop files left by an earlier run for now-absent tables."""
    try:
        quarantine_dir.mkdir(parents=True, exist_ok=True)
        for name in absent:
            (quarantine_dir / f"{name}.parquet").unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot write quarantine directory {quarantine_dir}: {exc.strerror}; "
            "choose another with --quarantine DIR"
        ) from exc


def load_contract(
    data_dir: str | Path,
    as_of: str | pd.Timestamp | None = None,
    quarantine_dir: str | Path | None = None,
) -> ContractData:
    """Read and validate every contract table in `data_dir` as of `as_of` (default: now)."""
    data_dir = Path(data_dir)
    as_of_ts = parse_as_of(as_of)
    found, absent = _locate(data_dir, TABLES)
    qdir = Path(quarantine_dir) if quarantine_dir else data_dir / QUARANTINE_SUBDIR
    _prepare_quarantine(qdir, absent)
    report = ValidationReport(as_of=as_of_ts, quarantine_dir=str(qdir), absent=absent)
    accepted: dict[str, pd.DataFrame] = {}
    parent_keys: dict[str, pd.Index] = {}
    for spec in TABLES:
        if spec.name not in found:
            continue
        with step(f"validating {spec.name}"):
            frame = read_table(found[spec.name], spec)
            verdict = judge_rows(frame, spec, parent_keys, as_of_ts)
            good = frame[verdict.accepted].reset_index(drop=True)
            bad = frame[~verdict.accepted].copy()
            bad.insert(0, "row", bad.index.to_numpy())
            bad.insert(0, "reason", verdict.reasons[~verdict.accepted].astype(str))
            bad.reset_index(drop=True).to_parquet(qdir / f"{spec.name}.parquet", index=False)
        accepted[spec.name] = good
        if len(spec.primary_key) == 1:
            parent_keys[spec.name] = pd.Index(good[spec.primary_key[0]])
        report.tables[spec.name] = TableReport(
            read=len(frame),
            accepted=len(good),
            quarantined=len(bad),
            reasons=verdict.counts(),
        )
    if absent:
        log.info("absent optional tables (their features are off): %s", ", ".join(absent))
    return ContractData(tables=accepted, report=report)
