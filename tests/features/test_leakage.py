"""Leakage: a feature for a decision at t never changes when the future changes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.simulator import SimResult
from features.compute import FeatureBuilder
from features.contract import ContractData, load_contract
from tests.features.future import delete_future, scramble_future


@pytest.fixture(scope="module")
def world(small_world: SimResult) -> ContractData:
    return load_contract(small_world.out_dir, as_of=small_world.split_time)


def requests_at(data: ContractData, t: pd.Timestamp, seed: int) -> dict[str, pd.DataFrame]:
    """Feed and suggestion requests at exactly t, for items that exist before t."""
    rng = np.random.default_rng(seed)
    users = data["users"][data["users"]["registered_at"] < t]["user_id"].to_numpy()
    posts = data["posts"][data["posts"]["created_at"] < t]["post_id"].to_numpy()
    circles = data["circles"][data["circles"]["created_at"] < t]["circle_id"].to_numpy()
    n = 60
    return {
        "feed": pd.DataFrame(
            {"user_id": rng.choice(users, n), "item_id": rng.choice(posts, n), "as_of": t}
        ),
        "circle_suggestions": pd.DataFrame(
            {"user_id": rng.choice(users, n), "item_id": rng.choice(circles, n), "as_of": t}
        ),
    }


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fraction=st.floats(0.05, 1.0), seed=st.integers(0, 2**16))
def test_features_ignore_rows_at_or_after_t(
    world: ContractData, fraction: float, seed: int
) -> None:
    events = world["events"]["ts"].sort_values()
    t = events.iloc[int(fraction * (len(events) - 1))]
    if seed % 2:  # between events half the time; exactly on a logged event otherwise
        t = t - pd.Timedelta(microseconds=int(seed))
    asks = requests_at(world, t, seed)
    for surface, rows in asks.items():
        full = FeatureBuilder(world).for_requests(rows, surface)
        for variant in (delete_future(world, t), scramble_future(world, t, seed)):
            cut = FeatureBuilder(variant).for_requests(rows, surface)
            pd.testing.assert_frame_equal(full, cut, check_exact=True)


def test_an_impression_does_not_see_itself(world: ContractData) -> None:
    ev = world["events"]
    shown = ev[(ev["surface"] == "feed") & (ev["action"] == "impression")].head(200)
    rows = shown.rename(columns={"ts": "as_of"})[["user_id", "item_id", "as_of"]]
    at_t = FeatureBuilder(world).for_requests(rows, "feed")
    later = FeatureBuilder(world).for_requests(
        rows.assign(as_of=rows["as_of"] + pd.Timedelta(microseconds=1)), "feed"
    )
    # one microsecond later the impression itself (at least) is history
    assert (later["user_impressions"] > at_t["user_impressions"]).all()
