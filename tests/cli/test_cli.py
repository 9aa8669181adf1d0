"""The command line: exit codes, one-line errors, the JSON report's exact shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from circlerank.cli.main import COMMANDS, build_parser, main
from tests.features.minimal import write_minimal

AS_OF = "2026-06-01T00:00:00Z"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "circlerank.cli.main", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_validate_json_has_the_documented_shape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = pd.DataFrame(
        {
            "user_id": ["007", "u2", "u2"],
            "registered_at": ["2026-01-01", "2026-01-02", "2026-01-03"],
        }
    )
    write_minimal(tmp_path, users=users)
    assert main(["-q", "validate", "--data", str(tmp_path), "--as-of", AS_OF, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"as_of", "tables", "absent", "quarantine_dir"}
    assert report["as_of"] == "2026-06-01T00:00:00+00:00"
    assert report["tables"]["users"] == {
        "read": 3,
        "accepted": 2,
        "quarantined": 1,
        "reasons": {"duplicate_key": 1},
    }
    assert "payments" in report["absent"] and "users" not in report["absent"]
    assert report["quarantine_dir"] == str(tmp_path / "_quarantine")


def test_validate_text_report_lists_tables_and_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_minimal(tmp_path)
    quarantine = tmp_path / "elsewhere"
    args = [
        "-q",
        "validate",
        "--data",
        str(tmp_path),
        "--as-of",
        AS_OF,
        "--quarantine",
        str(quarantine),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "users" in out and "memberships" in out and "no row quarantined" in out
    assert (quarantine / "users.parquet").is_file()


def test_missing_required_table_exits_1_with_one_line(tmp_path: Path) -> None:
    write_minimal(tmp_path)
    (tmp_path / "memberships.csv").unlink()
    result = run_cli("-q", "validate", "--data", str(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "memberships" in lines[0] and "Traceback" not in result.stderr


def test_unreadable_column_exits_1_naming_file_column_value(tmp_path: Path) -> None:
    users = pd.DataFrame({"user_id": ["a"], "registered_at": ["yesterday"]})
    write_minimal(tmp_path, users=users)
    result = run_cli("-q", "validate", "--data", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "users.csv" in result.stderr and "registered_at" in result.stderr
    assert "'yesterday'" in result.stderr


def test_bad_as_of_is_a_config_error(tmp_path: Path) -> None:
    write_minimal(tmp_path)
    result = run_cli("validate", "--data", str(tmp_path), "--as-of", "soon")
    assert result.returncode == 2
    assert "--as-of" in result.stderr and "Traceback" not in result.stderr


def test_every_command_has_help() -> None:
    parser = build_parser()
    for module in COMMANDS:
        name = module.__name__.rsplit(".", 1)[-1].replace("_", "-").replace("importer", "import")
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([name, "--help"])
        assert exit_info.value.code == 0


def test_demo_prints_one_screen_of_results_that_explains_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "world"
    assert main(["demo", "--out", str(out), "--users", "500", "--days", "21"]) == 0
    printed, err = capsys.readouterr()
    words = " ".join(printed.split())  # lines wrap at 100 columns
    assert "no row quarantined" in words and "training rows" in words
    assert (tmp_path / "features" / "online").is_dir()
    assert (tmp_path / "models" / "current" / "manifest.json").is_file()
    assert "Share of oracle: the true value" in words and "chronological" in words
    assert "<- default" in printed and "(target" not in printed
    assert "treatment `short` " in words and "clicks per user" in words
    assert len(printed.splitlines()) <= 50, printed
    # stderr: a start and an end line per stage, nothing nested
    assert len(err.splitlines()) <= 15, err
    assert "view " not in err and "head feed/" not in err
    assert (out / "events.parquet").is_file()
    assert (tmp_path / "world_truth" / "meta.json").is_file()
    html = (tmp_path / "report" / "report.html").read_text()
    assert "Default strategies (what the API serves" in html and 'class="verdict"' in html


def test_simulate_rejects_a_tiny_world(tmp_path: Path) -> None:
    result = run_cli("simulate", "--out", str(tmp_path / "w"), "--users", "0")
    assert result.returncode == 2
    assert "users" in result.stderr and "Traceback" not in result.stderr
