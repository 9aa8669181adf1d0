"""Every CLI and API error is one line that names the flag, variable or field the user
typed, shows a valid value where a format is expected, and carries no library wording."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from circlerank.cli.main import main
from serving.routes.events import _judge
from serving.settings import load_settings
from tests.features.minimal import write_minimal

LIBRARY_WORDING = (
    "Value error, ",
    "Field required",
    "Input should be",
    "validation error for",
    "errors.pydantic.dev",
    "[type=",
    "Traceback",
)
TIME_EXAMPLE = "such as 2026-03-01 or 2026-03-01T12:00:00Z"


def only_error_line(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"circlerank {command}: error: "), err
    assert not [w for w in LIBRARY_WORDING if w in err], err
    return lines[0]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    write_minimal(tmp_path / "data")
    return tmp_path / "data"


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        ("train", "--until"),
        ("rank", "--at"),
        ("evaluate", "--at"),
        ("features", "--as-of"),
        ("validate", "--as-of"),
        ("serve", "--as-of"),
    ],
)
def test_an_unreadable_time_names_its_flag_and_shows_an_example(
    command: str,
    flag: str,
    data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the working tree
    monkeypatch.setenv("CIRCLERANK_API_TOKENS", "token-123456")
    users = tmp_path / "users.txt"
    users.write_text("u1\n")
    models, out = str(tmp_path / "models"), str(tmp_path / "out")
    argv = {
        "train": ["--data", str(data), "--out", models],
        "rank": [
            *("--data", str(data), "--models", models, "--surface", "feed"),
            *("--users", str(users), "--out", f"{out}.parquet"),
        ],
        "evaluate": ["--data", str(data), "--models", models, "--strategies", "community"],
        "features": ["--data", str(data), "--out", out],
        "validate": ["--data", str(data)],
        "serve": ["--data", str(data), "--models", models],
    }[command]
    assert main(["-q", command, *argv, flag, "yesterday"]) == 2
    line = only_error_line(capsys.readouterr().err, command)
    assert f"error: {flag}: cannot read 'yesterday' as a time" in line
    assert TIME_EXAMPLE in line
    other_flags = {"--until", "--at", "--as-of"} - {flag}
    assert not [f for f in other_flags if f in line], line


def test_a_time_from_the_environment_names_the_variable(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CIRCLERANK_API_TOKENS", "token-123456")
    monkeypatch.setenv("CIRCLERANK_AS_OF", "soon")
    assert main(["-q", "serve", "--data", str(data), "--models", str(tmp_path)]) == 2
    line = only_error_line(capsys.readouterr().err, "serve")
    assert "error: CIRCLERANK_AS_OF: cannot read 'soon' as a time" in line
    assert TIME_EXAMPLE in line


def test_serve_without_tokens_says_what_to_set_and_how(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CIRCLERANK_API_TOKENS", raising=False)
    assert main(["-q", "serve", "--data", str(data), "--models", str(tmp_path)]) == 2
    line = only_error_line(capsys.readouterr().err, "serve")
    assert "CIRCLERANK_API_TOKENS is missing" in line
    assert "export CIRCLERANK_API_TOKENS=" in line and "secrets.token_urlsafe" in line


def test_a_bad_setting_given_by_flag_names_the_flag_and_an_example(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CIRCLERANK_API_TOKENS", "token-123456")
    argv = ["-q", "serve", "--data", str(data), "--models", str(tmp_path)]
    assert main([*argv, "--online-store", "memcached://x"]) == 2
    line = only_error_line(capsys.readouterr().err, "serve")
    assert "--online-store must be a redis:// URL such as redis://localhost:6379/0" in line
    assert "CIRCLERANK_ONLINE_STORE" not in line


def test_settings_errors_name_the_variable_and_say_what_was_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CIRCLERANK_API_TOKENS", "short")
    monkeypatch.setenv("CIRCLERANK_MAX_LIMIT", "ten")
    with pytest.raises(Exception) as raised:
        load_settings(data="-", models="-")
    message = str(raised.value)
    assert "CIRCLERANK_API_TOKENS has 1 token(s) shorter than 8 characters" in message
    assert "CIRCLERANK_MAX_LIMIT must be a valid integer" in message and "(got 'ten')" in message
    assert not [w for w in LIBRARY_WORDING if w in message], message


def test_a_missing_data_directory_names_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    assert main(["-q", "train", "--data", str(missing), "--out", str(tmp_path / "m")]) == 2
    line = only_error_line(capsys.readouterr().err, "train")
    assert f"--data {missing}: no such directory" in line and "e.g. demo/world" in line


def test_a_missing_bundle_names_the_flag_and_how_to_train_one(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    argv = ["-q", "evaluate", "--data", str(data), "--models", str(models)]
    assert main([*argv, "--at", "2026-03-01", "--strategies", "community"]) == 2
    line = only_error_line(capsys.readouterr().err, "evaluate")
    assert f"--models {models}: no model bundle here" in line
    assert f"circlerank train --data demo/world --out {models}" in line


def test_a_config_files_errors_become_one_plain_clause_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "train.toml"
    config.write_text('[training]\nvalidation_days = -1\nposition_bias = "x"\n')
    argv = ["-q", "train", "--data", str(tmp_path), "--out", str(tmp_path / "m")]
    assert main([*argv, "--config", str(config)]) == 2
    line = only_error_line(capsys.readouterr().err, "train")
    assert "validation_days must be greater than 0 (got -1)" in line
    assert "position_bias must be 'feature', 'ipw' or 'none' (got 'x')" in line


def _event(**changes: Any) -> Any:
    row = {
        "event_id": "e1",
        "ts": "2026-03-01T12:00:00Z",
        "user_id": "u1",
        "surface": "feed",
        "item_id": "p1",
        "action": "click",
    }
    return {k: v for k, v in (row | changes).items() if v is not None}


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        (_event(ts="yesterday"), "ts", "ts cannot be read as a time (got 'yesterday'); e.g. "),
        (_event(user_id=None), "user_id", 'user_id is missing; e.g. "u00042"'),
        (_event(propensity=0), "propensity", "propensity must be greater than 0 (got 0); e.g. "),
        (_event(surface="inbox"), "surface", "surface must be 'feed' or 'circle_suggestions'"),
        (_event(action="join"), "action", "action 'join' is not valid on feed; valid: click"),
        (_event(position="three"), "position", "position must be a valid integer"),
        (_event(colour="red"), "colour", "colour is not an event field; fields: event_id, ts"),
        ("not an object", "row", "row must be a JSON object with the event fields (got a string)"),
    ],
)
def test_a_rejected_event_names_its_field_in_plain_words(row: Any, field: str, reason: str) -> None:
    good, bad = _judge([_event(), row], datetime.now(UTC))
    assert len(good) == 1 and len(bad) == 1
    assert bad[0].index == 1 and bad[0].field == field
    assert bad[0].reason.startswith(reason), bad[0].reason
    assert not [w for w in LIBRARY_WORDING if w in bad[0].reason], bad[0].reason


def test_a_time_field_shows_a_valid_timestamp() -> None:
    _, bad = _judge([_event(ts="yesterday")], datetime.now(UTC))
    assert '"2026-03-01T12:00:00Z"' in bad[0].reason


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["simulate", "--out", "x", "--users", "ten"], "argument --users: 'ten' is not a whole"),
        (
            [
                "evaluate",
                "--data",
                "d",
                "--models",
                "m",
                "--at",
                "2026-01-01",
                "--strategies",
                "a",
                "--ope-hours",
                "many",
            ],
            "argument --ope-hours: 'many' is not a number; e.g. 24",
        ),
    ],
)
def test_a_bad_number_names_its_flag_and_shows_an_example(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err
