"""`train --until` past the end of the data trains on all of it."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from circlerank.cli.main import main
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
