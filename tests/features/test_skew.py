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


@pytest.mark.parametrize("surface", ["feed", "circle_suggestions"])
def test_serving_reads_object_and_str_ids_alike(
    world: ContractData, small_world: SimResult, tmp_path: Path, surface: str
) -> None:
    """The API hands ids over as Python strings, training as Arrow strings: serving
    hydrates and looks up both the same way, missing ids included."""
    t = small_world.split_time
    write_snapshot(FeatureBuilder(world), tmp_path / "features", t)
    rows = requests(world, t, surface)
    as_str = rows.astype({"user_id": "str", "item_id": "str"})
    as_objects = rows.astype({"user_id": object, "item_id": object})
    as_objects.loc[3, "user_id"] = None  # a request without a user id reads the defaults
    as_str.loc[3, "user_id"] = "\x00no-such-user"
    serving = ServingFeatures(tmp_path / "features", world)

    from_str = serving.for_requests(as_str, surface).drop(columns=["user_id", "item_id"])
    from_objects = serving.for_requests(as_objects, surface).drop(columns=["user_id", "item_id"])

    pd.testing.assert_frame_equal(from_objects, from_str, check_exact=True)
    hydrated = serving.hydrate(as_str, surface)
    keys = serving.hydrate.object_keys(as_str, surface)
    for column, values in keys.items():
        assert values.dtype == object
        assert values.tolist() == hydrated[column].tolist(), column


def test_model_matrix_from_feature_rows_equals_the_frames(
    world: ContractData, small_world: SimResult, tmp_path: Path
) -> None:
    """Models read serving rows as a matrix, with no frame: the same inputs as from the
    training frame, for any column order, absent columns (NaN) and set constants."""
    from training.ranker import inputs

    t = small_world.split_time
    builder = FeatureBuilder(world)
    write_snapshot(builder, tmp_path / "features", t)
    rows = requests(world, t, "feed")
    training = builder.for_requests(rows, "feed").assign(position=0.0, circle_members=5.0)
    serving = ServingFeatures(tmp_path / "features", world).rows(rows, "feed")
    serving = serving.assign(position=0.0, circle_members=5.0)

    stored = [c for c in training.columns if c not in ("user_id", "item_id", "as_of")]
    shuffled = [*np.random.default_rng(0).permutation(stored), "never_computed"]
    # in stored order with gaps, absent columns and a constant inside: copied by runs
    runs = [*stored[:5], "never_computed", "also_absent", *stored[9:]]
    for model in (shuffled, runs):
        from_rows, from_frame = inputs(serving, model), inputs(training, model)
        assert from_rows.flags.c_contiguous and from_rows.shape == (len(rows), len(model))
        np.testing.assert_allclose(from_rows, from_frame, rtol=1e-9, atol=1e-9)
        assert np.isnan(from_rows[:, model.index("never_computed")]).all()
        assert (from_rows[:, model.index("circle_members")] == 5.0).all()
    pd.testing.assert_frame_equal(
        serving.frame(), training, check_exact=False, rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("surface", ["feed", "circle_suggestions"])
def test_one_user_many_items_equals_training(
    world: ContractData, small_world: SimResult, tmp_path: Path, surface: str
) -> None:
    """The API's case: one user, many items (pairs keyed by the varying side only)."""
    t = small_world.split_time
    builder = FeatureBuilder(world)
    write_snapshot(builder, tmp_path / "features", t)
    rows = requests(world, t, surface).iloc[:-1]  # without the unseen user's row
    for user in rows["user_id"].unique()[:3]:
        one = rows.assign(user_id=user)
        serving = ServingFeatures(tmp_path / "features", world).for_requests(one, surface)
        training = builder.for_requests(one, surface)
        pd.testing.assert_frame_equal(serving, training, check_exact=False, rtol=1e-9, atol=1e-9)
