"""Skew: serving features for (user, item) at t equal the training features of an
impression at t, for every feature, on both surfaces, known and unseen keys alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.simulator import SimResult
from features.compute import FeatureBuilder
from features.contract import ContractData, load_contract
from features.materialize import write_snapshot
from features.serving import ServingFeatures


@pytest.fixture(scope="module")
def world(small_world: SimResult) -> ContractData:
    return load_contract(small_world.out_dir, as_of=small_world.split_time)


def requests(data: ContractData, t: pd.Timestamp, surface: str, n: int = 150) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    users = data["users"]["user_id"].to_numpy()
    if surface == "feed":
        items = data["posts"][data["posts"]["created_at"] < t]["post_id"].to_numpy()
    else:
        items = data["circles"][data["circles"]["created_at"] < t]["circle_id"].to_numpy()
    rows = pd.DataFrame(
        {"user_id": rng.choice(users, n), "item_id": rng.choice(items, n), "as_of": t}
    )
    # a user and an item nobody has seen: both paths must fall back to the same defaults
    unseen = pd.DataFrame(
        {"user_id": ["new-user"], "item_id": [rows["item_id"].iloc[0]], "as_of": [t]}
    )
    return pd.concat([rows, unseen], ignore_index=True)


@pytest.mark.parametrize("surface", ["feed", "circle_suggestions"])
@pytest.mark.parametrize("days_before_split", [0.0, 3.25])
def test_serving_equals_training(
    world: ContractData,
    small_world: SimResult,
    tmp_path: Path,
    surface: str,
    days_before_split: float,
) -> None:
    t = small_world.split_time - pd.Timedelta(days=days_before_split)
    builder = FeatureBuilder(world)
    write_snapshot(builder, tmp_path / "features", t)
    rows = requests(world, t, surface)

    training = builder.for_requests(rows, surface)
    serving = ServingFeatures(tmp_path / "features", world).for_requests(rows, surface)

    assert list(serving.columns) == list(training.columns)
    pd.testing.assert_frame_equal(serving, training, check_exact=False, rtol=1e-9, atol=1e-9)
