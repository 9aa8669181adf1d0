"""The booster knobs (bagging, LambdaRank truncation) are validated by the config and
reach LightGBM; their defaults leave the trained models unchanged."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from circlerank.errors import ConfigError
from training.config import BoosterParams, TrainConfig
from training.dataset import TrainingSet
from training.heads import HeadsRanker, booster_params
from training.lambdarank import CUTOFF, LambdaRanker


def model_setting(booster: lgb.Booster, name: str) -> str:
    """A parameter as LightGBM recorded it in the model text."""
    prefix = f"[{name}: "
    lines = [line for line in booster.model_to_string().splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, name
    return lines[0][len(prefix) : -1]


def suggestions(queries: int, seed: int) -> TrainingSet:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 30, queries)
    x = rng.standard_normal((int(sizes.sum()), 4))
    join = (x[:, 0] + 0.5 * rng.standard_normal(len(x)) > 1.2).astype(np.float64)
    names = [f"f{i}" for i in range(x.shape[1])]
    frame = pd.DataFrame(x, columns=names).assign(
        request_id=np.repeat([f"r{i:05d}" for i in range(queries)], sizes), join=join
    )
    return TrainingSet("circle_suggestions", frame, names)


def test_the_defaults_turn_bagging_off() -> None:
    params = booster_params(BoosterParams(), 0, "binary")
    assert params["bagging_fraction"] == 1.0
    assert params["bagging_freq"] == 0
    assert BoosterParams().lambdarank_truncation_level is None


def test_bagging_settings_reach_the_params() -> None:
    params = booster_params(BoosterParams(bagging_fraction=0.7, bagging_freq=3), 5, "lambdarank")
    assert (params["bagging_fraction"], params["bagging_freq"]) == (0.7, 3)


@pytest.mark.parametrize(
    "bad",
    [
        {"bagging_fraction": 0.0},
        {"bagging_fraction": -0.2},
        {"bagging_fraction": 1.5},
        {"bagging_freq": -1},
        {"lambdarank_truncation_level": 0},
        {"lambdarank_truncation_level": -5},
        {"lambdarank_truncation_level": 2.5},
    ],
)
def test_invalid_knobs_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        BoosterParams.model_validate(bad)


def test_a_training_file_sets_the_knobs_and_refuses_bad_ones(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        "[training.booster]\nbagging_fraction = 0.8\nbagging_freq = 1\n"
        "lambdarank_truncation_level = 30\n"
    )
    booster = TrainConfig.load(good).booster
    assert (booster.bagging_fraction, booster.bagging_freq) == (0.8, 1)
    assert booster.lambdarank_truncation_level == 30
    bad = tmp_path / "bad.toml"
    bad.write_text("[training.booster]\nbagging_fraction = 1.2\n")
    with pytest.raises(ConfigError, match="bagging_fraction"):
        TrainConfig.load(bad)


def test_lambdarank_trains_with_the_knobs() -> None:
    train, valid = suggestions(300, 0), suggestions(100, 1)
    small = {"min_data_in_leaf": 20, "max_rounds": 30, "early_stopping_rounds": 10}
    default = LambdaRanker(BoosterParams(**small)).fit(train, valid).booster
    assert model_setting(default, "lambdarank_truncation_level") == str(
        2 * CUTOFF["circle_suggestions"]
    )
    assert model_setting(default, "bagging_freq") == "0"
    params = BoosterParams(
        **small, bagging_fraction=0.6, bagging_freq=2, lambdarank_truncation_level=25
    )
    tuned = LambdaRanker(params).fit(train, valid).booster
    assert model_setting(tuned, "lambdarank_truncation_level") == "25"
    assert model_setting(tuned, "bagging_fraction") == "0.6"
    assert model_setting(tuned, "bagging_freq") == "2"


def test_heads_train_with_bagging() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4000, 3))
    click = (x[:, 0] + rng.standard_normal(len(x)) > 1).astype(np.float64)
    names = ["a", "b", "c"]
    frame = pd.DataFrame(x, columns=names).assign(click=click)
    data = TrainingSet("feed", frame, names)
    params = BoosterParams(min_data_in_leaf=50, max_rounds=20, bagging_fraction=0.5, bagging_freq=1)
    booster = HeadsRanker(params, {"click": 1.0}).fit(data, data).boosters["click"]
    assert model_setting(booster, "bagging_fraction") == "0.5"
    assert model_setting(booster, "bagging_freq") == "1"


def test_default_knobs_train_the_same_model_as_before() -> None:
    """Bagging off and truncation at twice the cutoff, written out or not, give the
    same model text: existing models are unchanged."""
    train = suggestions(200, 3)
    x, y = train.frame[train.features].to_numpy(), train.frame["join"].to_numpy()
    params = booster_params(BoosterParams(min_data_in_leaf=20), 0, "lambdarank")
    params.update({"eval_at": [5], "lambdarank_truncation_level": 10})
    before = {k: v for k, v in params.items() if not k.startswith("bagging")}
    models = [
        lgb.train(p, lgb.Dataset(x, label=y, group=train.groups()), 20).model_to_string()
        for p in (params, before)
    ]
    assert models[0] == models[1]
