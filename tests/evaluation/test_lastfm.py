"""The Last.fm protocol: the split, the masking and the metrics on generated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.lastfm import _train_tables, evaluate, interactions, run, split
from tests.features.lastfm_files import generated_lastfm


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
    rows = run(src, seeds=(0,), models=("engine (README commands)",))
    assert rows[["ndcg@10", "recall@10"]].apply(lambda c: c.between(0, 1)).all().all()


def pairs_of(split_part: pd.DataFrame) -> set[tuple[str, str]]:
    """A split's (user, artist) pairs as the importer's ids."""
    users = "u" + split_part["user_id"].astype(str)
    return set(zip(users, "a" + split_part["item_id"].astype(str), strict=True))


def test_the_engine_sees_only_training_pairs_memberships_and_tags(
    src: Path, tmp_path: Path
) -> None:
    from features.importers.lastfm import import_lastfm

    data = split(interactions(src), 0)
    import_lastfm(src, tmp_path / "all")
    _train_tables(tmp_path / "all", tmp_path / "t", data.train, True, True, False)
    train = pairs_of(data.train)
    held_out = pairs_of(pd.concat([data.valid, data.test]))
    members = pd.read_parquet(tmp_path / "t" / "memberships.parquet")
    assert set(zip(members["user_id"], members["circle_id"], strict=True)) == train
    posts = pd.read_parquet(tmp_path / "t" / "posts.parquet")
    tagged = set(zip(posts["author_id"], posts["circle_id"], strict=True))
    assert tagged and tagged <= train and not tagged & held_out
    every = pd.read_parquet(tmp_path / "all" / "posts.parquet")
    assert (
        set(zip(every["author_id"], every["circle_id"], strict=True)) & held_out
    )  # the source has them
    assert pd.read_parquet(tmp_path / "t" / "circles.parquet")["topic"].nunique() == 1
