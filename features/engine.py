"""Engines run a view's aggregation: pandas in process, or Dask on a cluster.

Both split the stream and the queries by a stable hash of the partition key, so a key's
rows always meet its queries in one partition, and call the view's own aggregate
function on each part: the Dask engine adds no code of its own to any feature.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from circlerank.errors import ConfigError

from .views.base import FeatureView, ViewParams

PART = "__part"
ROW = "__row"


def partition_of(keys: pd.Series, parts: int) -> np.ndarray:
    """A stable partition number per key (the same in every process and run)."""
    hashed = pd.util.hash_array(keys.astype("str").to_numpy(dtype=object))
    return (hashed % np.uint64(parts)).astype(np.int64)


def _apply(
    view: FeatureView, stream: pd.DataFrame, queries: pd.DataFrame, params: ViewParams
) -> pd.DataFrame:
    out = view.aggregate(stream.drop(columns=PART), queries.drop(columns=[PART, ROW]), params)
    out[ROW] = queries[ROW].to_numpy()
    return out


class Engine(Protocol):
    name: str

    def run(
        self, view: FeatureView, stream: pd.DataFrame, queries: pd.DataFrame, params: ViewParams
    ) -> pd.DataFrame: ...

    def close(self) -> None: ...


class PandasEngine:
    """In process; `parts` > 1 bounds memory by aggregating one key-partition at a time."""

    name = "pandas"

    def __init__(self, parts: int = 1) -> None:
        self.parts = parts

    def run(
        self, view: FeatureView, stream: pd.DataFrame, queries: pd.DataFrame, params: ViewParams
    ) -> pd.DataFrame:
        if self.parts == 1:
            return view.aggregate(stream, queries, params)
        sp = partition_of(stream[view.partition_key], self.parts)
        qp = partition_of(queries[view.partition_key], self.parts)
        q = queries.assign(**{ROW: np.arange(len(queries)), PART: qp})
        s = stream.assign(**{PART: sp})
        pieces = [_apply(view, s[sp == p], q[qp == p], params) for p in range(self.parts)]
        out = pd.concat(pieces, ignore_index=True).sort_values(ROW)
        return out.drop(columns=ROW).set_axis(queries.index)

    def close(self) -> None:
        return None


class DaskEngine:
    """On a dask.distributed cluster (a LocalCluster when no scheduler address is given)."""

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int = 2, parts: int | None = None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - dask is a dependency
            raise ConfigError("the dask engine needs dask[distributed] installed") from exc
        self._cluster = None
        if scheduler:
            self.client = Client(scheduler)
        else:
            self._cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self.client = Client(self._cluster)
        self.parts = parts or 2 * max(1, len(self.client.scheduler_info()["workers"]))

    def run(
        self, view: FeatureView, stream: pd.DataFrame, queries: pd.DataFrame, params: ViewParams
    ) -> pd.DataFrame:
        import dask.dataframe as dd

        s = stream.assign(**{PART: partition_of(stream[view.partition_key], self.parts)})
        q = queries.assign(
            **{
                ROW: np.arange(len(queries)),
                PART: partition_of(queries[view.partition_key], self.parts),
            }
        )
        ds = dd.from_pandas(s, npartitions=1).shuffle(on=PART, npartitions=self.parts)
        dq = dd.from_pandas(q, npartitions=1).shuffle(on=PART, npartitions=self.parts)
        meta = _apply(view, s.iloc[:0], q.iloc[:0], params)
        result = dd.map_partitions(
            _apply, view, ds, dq, params, meta=meta, align_dataframes=False
        ).compute()
        out = result.sort_values(ROW)
        return out.drop(columns=ROW).set_axis(queries.index)

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_engine(name: str, scheduler: str | None = None, parts: int = 1) -> Engine:
    """The one place engines are chosen by name."""
    if name == "pandas":
        return PandasEngine(parts)
    if name == "dask":
        return DaskEngine(scheduler)
    raise ConfigError(f"unknown engine {name!r}; valid: pandas, dask")
