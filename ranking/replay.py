"""Offline replay: rank many users as of a past time with the pipeline the API uses.

Entity features come from a snapshot materialized at the replay time (rows strictly
before it), read back through the online store exactly as the server reads them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from circlerank.errors import ConfigError
from circlerank.progress import step, track
from features.compute import FeatureBuilder
from features.contract import ContractData
from features.materialize import read_schema, write_snapshot
from features.serving import ServingFeatures
from training.bundle import Bundle

from .catalog import Catalog
from .components import RankContext
from .forked import run_batches
from .pipeline import Pipeline, RankResult
from .strategy import Strategies, load_strategies

BATCH_USERS = 500  # at most, per pipeline run
FIRST_BATCH = 100  # ranked in this process first: it fills the caches workers share


class Replayer:
    """Ranks users at one time `at`: one snapshot, one catalog, many strategies."""

    def __init__(
        self,
        data: ContractData,
        bundle: Bundle | None,
        at: pd.Timestamp,
        feature_dir: str | Path | None = None,
        strategies: Strategies | None = None,
        reuse_snapshot: bool = False,
        workers: int = 1,
    ) -> None:
        """`reuse_snapshot`: read the snapshot already in `feature_dir` (it must be as
        of `at`) instead of materializing one. `workers`: processes that rank batches
        of users at once (forks of this one; see `ranking.forked`)."""
        if workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.data = data
        self.bundle = bundle
        self.at = at
        self.strategies = strategies or load_strategies()
        self._tmp = None
        if feature_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="circlerank-snapshot-")
            feature_dir = self._tmp.name
        if reuse_snapshot:
            written_at, schema = read_schema(feature_dir)
            if written_at != at:
                raise ConfigError(f"the snapshot in {feature_dir} is as of {written_at}, not {at}")
        else:
            config = bundle.schema.config if bundle is not None else None
            with step(f"feature snapshot as of {at}"):
                schema = write_snapshot(FeatureBuilder(data, config), feature_dir, at).schema
        if bundle is not None:
            bundle.check_schema(schema, f"the snapshot in {feature_dir}")
        self.features = ServingFeatures(feature_dir, data)
        freshness = pd.Timedelta(days=self.strategies.freshness_days)
        self.catalog = Catalog(data, at, freshness=freshness)

    def context(self, surface: str) -> RankContext:
        return RankContext(
            surface=surface,
            catalog=self.catalog,
            features=self.features.rows,
            bundle=self.bundle,
        )

    def rank(
        self, surface: str, users: np.ndarray, limit: int, strategy: str | None = None
    ) -> RankResult:
        pipeline = Pipeline(self.strategies.get(strategy, surface))
        ctx = self.context(surface)
        pipeline.prepare(ctx)  # once, before the batches fork
        total = RankResult()
        pages = []
        batches = _batches(users, self.workers)
        done = run_batches(lambda batch: pipeline.run(ctx, batch, limit), batches, self.workers)
        desc = f"ranking {surface} ({pipeline.strategy.name})"
        for got in track(done, desc=desc, total=len(batches)):
            pages.append(got.ranked)
            total.candidates.update(got.candidates)
            total.removed.update(got.removed)
            total.users += got.users
            for stage, seconds in got.seconds.items():
                total.seconds[stage] = total.seconds.get(stage, 0.0) + seconds
        if pages:
            # each batch is sorted by user then rank; so is the whole, whatever the batches
            total.ranked = pd.concat(pages, ignore_index=True).sort_values(
                ["user_id", "rank"], kind="stable", ignore_index=True
            )
        return total

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()


def _batches(users: np.ndarray, workers: int) -> list[np.ndarray]:
    """A small first batch, then batches of at most BATCH_USERS, at least four per
    worker so that the workers finish about together."""
    if len(users) == 0:
        return []
    first, rest = users[:FIRST_BATCH], users[FIRST_BATCH:]
    size = min(BATCH_USERS, max(FIRST_BATCH, -(-len(rest) // (4 * workers))))
    return [first] + [rest[start : start + size] for start in range(0, len(rest), size)]
