"""The Last.fm protocol: the split, the masking and the metrics on generated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.lastfm import ENGINE_BOOSTER, engine, evaluate, interactions, run, split
from tests.features.lastfm_files import generated_lastfm
from training.config import TrainConfig


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("lastfm")
    generated_lastfm(directory, users=50)
    return directory


def test_the_split_is_8_1_1_per_user_and_disjoint(src: Path) -> None:
    pairs = interactions(src)
    data = split(pairs, seed=0)
    parts = [data.train, data.valid, data.test]
    assert sum(len(p) for p in parts) == len(pairs)
    keys = [set(zip(p["user"], p["item"], strict=True)) for p in parts]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    per_user = data.train.groupby("user").size()
    assert (per_user == 6).all()  # 8 pairs each: 6 + 1 + 1
    assert split(pairs, seed=0).test.equals(data.test)  # same seed, same split


def test_a_perfect_scorer_scores_one_and_earlier_phases_are_masked(src: Path) -> None:
    """As RecBole's full-sort evaluation: validation ranks without the train pairs, test
    without the train and validation pairs (which would otherwise win)."""
    data = split(interactions(src), seed=1)
    truth = np.zeros((data.users, data.items))
    truth[data.test["user"], data.test["item"]] = 2.0
    truth[data.valid["user"], data.valid["item"]] = 4.0
    truth[data.train["user"], data.train["item"]] = 5.0
    got = evaluate(lambda users: truth[users], data, "test")
    assert got == {"ndcg@10": pytest.approx(1.0), "recall@10": pytest.approx(1.0)}
    on_valid = evaluate(lambda users: truth[users], data, "valid")
    assert on_valid == {"ndcg@10": pytest.approx(1.0), "recall@10": pytest.approx(1.0)}


def test_validation_pairs_stay_rankable_for_validation_and_only_there(src: Path) -> None:
    """A scorer that puts validation pairs first is perfect on validation and scores
    nothing on test when the test pairs are ranked last."""
    data = split(interactions(src), seed=1)
    scores = np.ones((data.users, data.items))
    scores[data.valid["user"], data.valid["item"]] = 9.0
    scores[data.test["user"], data.test["item"]] = -5.0
    assert evaluate(lambda users: scores[users], data, "valid")["ndcg@10"] == pytest.approx(1.0)
    assert evaluate(lambda users: scores[users], data, "test")["ndcg@10"] == 0.0


def test_the_baselines_run_end_to_end(src: Path) -> None:
    rows = run(src, seeds=(0,), models=("popularity", "implicit ALS"))
    assert list(rows["model"]) == ["popularity", "implicit ALS"]
    assert rows[["ndcg@10", "recall@10"]].apply(lambda c: c.between(0, 1)).all().all()


def test_the_engine_pipeline_runs_on_the_imported_tables(src: Path) -> None:
    """import -> train (suggestions from hidden memberships) -> the serving pipeline."""
    rows = run(src, seeds=(0,), models=("engine (ALS + social + LightGBM)",))
    assert rows[["ndcg@10", "recall@10"]].apply(lambda c: c.between(0, 1)).all().all()


def test_the_engine_trains_with_its_booster_settings_under_the_call_s(
    src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[TrainConfig] = []

    class Stop(Exception):
        pass

    def train(contract: object, config: TrainConfig) -> None:
        seen.append(config)
        raise Stop

    monkeypatch.setattr("training.train.train", train)
    with pytest.raises(Stop):
        engine(split(interactions(src), 0), src, booster={"num_leaves": 7})
    booster = seen[0].booster
    assert booster.num_leaves == 7
    assert {k: getattr(booster, k) for k in ENGINE_BOOSTER} == ENGINE_BOOSTER
    assert booster.bagging_freq > 0 and booster.lambdarank_truncation_level is not None
