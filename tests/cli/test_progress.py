"""Progress on stderr is a few stage lines per command: nested steps and the details
logged inside a stage show with --verbose or in --log-file only."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from circlerank.cli.main import main
from circlerank.progress import StagesOnly, step
from tests.features.minimal import write_minimal


def test_only_the_outermost_step_is_a_stage(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="circlerank")
    with step("outer"), step("inner"):
        pass
    levels = {r.getMessage().split(" ")[0]: r.levelno for r in caplog.records}
    assert levels == {"outer": logging.INFO, "inner": logging.DEBUG}
    assert len(caplog.records) == 4  # a start and a done line each


def test_details_inside_a_stage_are_dropped_but_warnings_pass() -> None:
    keep = StagesOnly()

    def record(level: int) -> logging.LogRecord:
        return logging.LogRecord("training.train", level, __file__, 1, "detail", None, None)

    assert keep.filter(record(logging.INFO))  # no stage open: a server's own lines
    with step("a stage"):
        assert not keep.filter(record(logging.INFO))
        assert keep.filter(record(logging.WARNING))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    write_minimal(tmp_path / "data")
    return tmp_path / "data"


def _progress(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.endswith(" ...") or " done in " in line]


def test_validate_shows_one_stage_and_the_log_file_every_step(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "run.log"
    argv = ["validate", "--data", str(data), "--as-of", "2026-06-01"]
    assert main(["--log-file", str(log), *argv]) == 0
    shown = _progress(capsys.readouterr().err)
    assert len(shown) == 2 and all(f"reading and validating {data}" in s for s in shown)
    kept = log.read_text()
    assert "validating users done in" in kept and "validating memberships ..." in kept


def test_verbose_shows_the_nested_steps_after_the_command_too(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "--data", str(data), "--as-of", "2026-06-01", "-v"]) == 0
    shown = _progress(capsys.readouterr().err)
    assert len(shown) > 2 and any("validating users done in" in s for s in shown)


def test_an_unwritable_log_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "no" / "such" / "dir" / "run.log"
    assert main(["--log-file", str(log), "validate", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"circlerank: error: --log-file {log}: cannot write (No such file or directory)\n"
