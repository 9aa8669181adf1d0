"""`train --until` past the end of the data trains on all of it; `rank --at` and `serve
--as-of` (given, or the end of the data by default) refuse a bundle trained past that
instant, in one line naming both times."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from circlerank.cli.main import build_parser, main
from circlerank.cli.serve import prepared
from circlerank.errors import TrainedAfterError
from evaluation.simulator import SimResult
from features.contract import data_end, load_contract
from training.bundle import MANIFEST, resolve
from training.dataset import training_until

WEEK = pd.Timedelta(days=7)


@pytest.fixture(scope="module")
def end(small_world: SimResult) -> pd.Timestamp:
    return data_end(load_contract(small_world.out_dir))


@pytest.fixture(scope="module")
def trained_to_2030(
    small_world: SimResult, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, str]:
    """MODELS trained with --until 2030-01-01, with train's stdout and stderr."""
    models = tmp_path_factory.mktemp("models")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(
            [
                "-q",
                "train",
                "--data",
                str(small_world.out_dir),
                "--out",
                str(models),
                "--until",
                "2030-01-01",
            ]
        )
    assert code == 0, err.getvalue()
    return models, out.getvalue(), err.getvalue()


def test_train_past_the_end_of_the_data_trains_on_all_of_it(
    trained_to_2030: tuple[Path, str, str], end: pd.Timestamp
) -> None:
    models, out, err = trained_to_2030
    printed = json.loads(out)
    assert pd.Timestamp(printed["until"]) == end
    manifest = json.loads((resolve(models) / MANIFEST).read_text())
    assert pd.Timestamp(manifest["until"]) == end
    # just after the latest row (`end` is a second after it)
    assert pd.Timestamp(manifest["seen_until"]) == end - pd.Timedelta(seconds=1, microseconds=-1)
    said = [line for line in err.splitlines() if "past the end of the data" in line]
    assert len(said) == 1 and "2030-01-01" in said[0], err
    assert "Traceback" not in err


def test_the_cut_off_moves_only_when_its_validation_window_holds_no_row(
    small_world: SimResult, end: pd.Timestamp
) -> None:
    data = load_contract(small_world.out_dir)
    last_event = data["events"]["ts"].max()
    assert training_until(data, None, WEEK) == last_event + pd.Timedelta(microseconds=1)
    inside = end - pd.Timedelta(days=3)
    assert training_until(data, inside, WEEK) == inside
    # a few days past the end: the window still holds rows, the cut-off is kept
    assert training_until(data, end + pd.Timedelta(days=3), WEEK) == end + pd.Timedelta(days=3)
    far = pd.Timestamp("2030-01-01", tz="UTC")
    assert training_until(data, far, WEEK) == end
    assert training_until(data, far, pd.Timedelta(days=2000)) == far


def rank_at(world: SimResult, models: Path, at: pd.Timestamp, tmp: Path) -> tuple[int, str]:
    users = tmp / "users.txt"
    users.write_text("\n".join(pd.read_parquet(world.out_dir / "users.parquet")["user_id"][:5]))
    code = main(
        [
            "-q",
            "rank",
            "--data",
            str(world.out_dir),
            "--models",
            str(models),
            "--surface",
            "feed",
            "--at",
            at.isoformat(),
            "--users",
            str(users),
            "--out",
            str(tmp / "ranked.parquet"),
            "--workers",
            "1",
        ]
    )
    return code, str(tmp / "ranked.parquet")


def test_rank_refuses_a_bundle_trained_past_at_in_one_line(
    small_world: SimResult,
    trained_to_2030: tuple[Path, str, str],
    end: pd.Timestamp,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    models = trained_to_2030[0]
    early = end - pd.Timedelta(days=2)
    code, _ = rank_at(small_world, models, early, tmp_path)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("circlerank rank: error: ")
    assert seen_until(models) in err and early.isoformat() in err

    code, ranked = rank_at(small_world, models, end, tmp_path)
    assert code == 0 and len(pd.read_parquet(ranked)) > 0


def serve_args(world: SimResult, models: Path, tmp: Path, *extra: str) -> argparse.Namespace:
    return build_parser().parse_args(
        [
            "serve",
            "--data",
            str(world.out_dir),
            "--models",
            str(models),
            "--snapshot",
            str(tmp / "snapshot"),
            "--event-log",
            f"sqlite:///{tmp / 'events.db'}",
            *extra,
        ]
    )


def test_serve_refuses_a_bundle_trained_past_as_of(
    small_world: SimResult,
    trained_to_2030: tuple[Path, str, str],
    end: pd.Timestamp,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CIRCLERANK_API_TOKENS", "token-123456")
    models = trained_to_2030[0]
    early = end - pd.Timedelta(days=2)
    argv = ["-q", "serve", "--data", str(small_world.out_dir), "--models", str(models)]
    argv += ["--snapshot", str(tmp_path / "snapshot"), "--as-of", early.isoformat()]
    argv += ["--event-log", f"sqlite:///{tmp_path / 'events.db'}"]
    assert main(argv) == 2  # before uvicorn starts
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("circlerank serve: error: ")
    assert seen_until(models) in err and early.isoformat() in err

    # the default as-of is the end of the data: the bundle trained on all of it serves,
    # and so does one cut off after the last row it read (`train --until` the midnight
    # after the data ends)
    later = edited(models, tmp_path / "later", until=end + pd.Timedelta(hours=1))
    for bundle in (models, later):
        with prepared(serve_args(small_world, bundle, tmp_path)) as env:
            assert pd.Timestamp(env["CIRCLERANK_AS_OF"]) == end

    # one that read a row at or after it is refused at the default as-of too
    leaked = edited(models, tmp_path / "leaked", seen_until=end + pd.Timedelta(days=1))
    refused = pytest.raises(TrainedAfterError, match="default: the end of the data")
    with refused, prepared(serve_args(small_world, leaked, tmp_path)):
        pass


def seen_until(models: Path) -> str:
    return str(json.loads((resolve(models) / MANIFEST).read_text())["seen_until"])


def edited(models: Path, target: Path, **fields: pd.Timestamp) -> Path:
    """A copy of the bundle MODELS points at, its manifest's `fields` changed."""
    shutil.copytree(resolve(models), target)
    manifest = json.loads((target / MANIFEST).read_text())
    manifest.update({k: v.isoformat() for k, v in fields.items()})
    (target / MANIFEST).write_text(json.dumps(manifest))
    return target
