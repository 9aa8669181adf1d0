"""Every engine gives the same features: pandas in one piece, pandas by partitions, and
Dask on a LocalCluster with 2 workers (same rows, values equal to 1e-9)."""

from __future__ import annotations

import pandas as pd
import pytest

from evaluation.simulator import SimResult
from features.compute import FeatureBuilder
from features.contract import ContractData, load_contract
from features.engine import DaskEngine, PandasEngine
from features.training_rows import logged_impressions


@pytest.fixture(scope="module")
def world(small_world: SimResult) -> ContractData:
    return load_contract(small_world.out_dir, as_of=small_world.split_time)


def outputs(
    builder: FeatureBuilder, world: ContractData, split: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    out = {
        surface: builder.for_requests(logged_impressions(world, surface).head(3000), surface)
        for surface in ("feed", "circle_suggestions")
    }
    for entity, frame in builder.materialize(split).items():
        out[f"snapshot:{entity}"] = frame
    return out


def assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(
            a[name], b[name], check_exact=False, rtol=1e-9, atol=1e-9, obj=name
        )


@pytest.fixture(scope="module")
def reference(world: ContractData, small_world: SimResult) -> dict[str, pd.DataFrame]:
    return outputs(FeatureBuilder(world), world, small_world.split_time)


def test_partitioned_pandas_equals_one_piece(
    world: ContractData, small_world: SimResult, reference: dict[str, pd.DataFrame]
) -> None:
    got = outputs(
        FeatureBuilder(world, engine=PandasEngine(parts=3)), world, small_world.split_time
    )
    assert_same(reference, got)


def test_dask_local_cluster_equals_pandas(
    world: ContractData, small_world: SimResult, reference: dict[str, pd.DataFrame]
) -> None:
    engine = DaskEngine(workers=2)
    try:
        assert len(engine.client.scheduler_info()["workers"]) == 2
        got = outputs(FeatureBuilder(world, engine=engine), world, small_world.split_time)
    finally:
        engine.close()
    assert_same(reference, got)
