"""Serving's per-snapshot caches: rows looked up once are reused, rows of new keys are
looked up when first asked, and a new snapshot starts afresh."""

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
from features.store import OnlineStore


@pytest.fixture(scope="module")
def world(small_world: SimResult) -> ContractData:
    return load_contract(small_world.out_dir, as_of=small_world.split_time)


class CountingStore(OnlineStore):
    """The file store, counting the keys asked of each table."""

    asked: dict[str, int]

    def lookup_found(self, table: str, ids: object) -> tuple[np.ndarray, np.ndarray]:
        self.asked = getattr(self, "asked", {})
        first = ids[0] if isinstance(ids, tuple) else ids
        self.asked[table] = self.asked.get(table, 0) + len(first)  # type: ignore[arg-type]
        return super().lookup_found(table, ids)  # type: ignore[arg-type]


def _posts(data: ContractData, t: pd.Timestamp) -> pd.DataFrame:
    posts = data["posts"]
    return posts[posts["created_at"] < t].reset_index(drop=True)


def _one_user(user: str, items: np.ndarray, t: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({"user_id": user, "item_id": items, "as_of": t})


def _open(directory: Path, data: ContractData) -> tuple[ServingFeatures, CountingStore]:
    store = CountingStore.open(directory / "online")
    assert isinstance(store, CountingStore)
    return ServingFeatures(directory, data, store=store), store


def _same_as_training(
    serving: ServingFeatures, builder: FeatureBuilder, rows: pd.DataFrame
) -> None:
    pd.testing.assert_frame_equal(
        serving.for_requests(rows, "feed"),
        builder.for_requests(rows, "feed"),
        check_exact=False,
        rtol=1e-9,
        atol=1e-9,
    )


def test_circle_city_rows_are_looked_up_once_per_circle_and_city(
    world: ContractData, small_world: SimResult, tmp_path: Path
) -> None:
    t = small_world.split_time
    builder = FeatureBuilder(world)
    write_snapshot(builder, tmp_path / "features", t)
    serving, store = _open(tmp_path / "features", world)
    posts = _posts(world, t)
    users = world["users"].drop_duplicates("city")["user_id"].to_numpy()[:2]
    first, later = posts["post_id"].to_numpy()[:40], posts["post_id"].to_numpy()[:80]

    for user in users:
        for items in (first, first, later):
            _same_as_training(serving, builder, _one_user(user, items, t))
    # per city: the first request's circles, then only the circles new in the later one
    circles = posts.set_index("post_id")["circle_id"]
    expected = len(users) * circles.loc[later].nunique()
    assert store.asked["circle_city"] == expected


def test_many_users_of_several_cities_in_one_request(
    world: ContractData, small_world: SimResult, tmp_path: Path
) -> None:
    t = small_world.split_time
    builder = FeatureBuilder(world)
    write_snapshot(builder, tmp_path / "features", t)
    serving, _ = _open(tmp_path / "features", world)
    rng = np.random.default_rng(7)
    posts = _posts(world, t)["post_id"].to_numpy()
    users = world["users"]["user_id"].to_numpy()
    # one city's table filled first, by a one-user request, then read with the others
    serving.rows(_one_user(users[0], posts[:30], t), "feed")
    rows = pd.DataFrame(
        {"user_id": rng.choice(users, 300), "item_id": rng.choice(posts, 300), "as_of": t}
    )
    _same_as_training(serving, builder, rows)


def test_a_new_snapshot_reads_its_own_rows(
    world: ContractData, small_world: SimResult, tmp_path: Path
) -> None:
    """The caches belong to one snapshot's ServingFeatures: one of a later snapshot looks
    its rows up again and serves that snapshot's values."""
    builder = FeatureBuilder(world)
    early, late = small_world.split_time - pd.Timedelta(days=3), small_world.split_time
    write_snapshot(builder, tmp_path / "early", early)
    write_snapshot(builder, tmp_path / "late", late)
    items = _posts(world, early)["post_id"].to_numpy()[:60]
    user = world["users"]["user_id"].iloc[0]
    before, _ = _open(tmp_path / "early", world)
    before.rows(_one_user(user, items, early), "feed")
    after, store = _open(tmp_path / "late", world)

    _same_as_training(after, builder, _one_user(user, items, late))
    assert store.asked["circle_city"] > 0
