"""Candidates as the serving pipeline finds them, for training (training/candidates.py
says why training asks through a protocol)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.compute import FeatureBuilder
from features.contract import ContractData
from training.bundle import Bundle

from .catalog import Catalog
from .components import CandidateSource, RankContext
from .pipeline import Pipeline
from .strategy import REGISTRY, Strategies, load_strategies

PAIR = ["user_id", "item_id"]


class ServingCandidates:
    """The shipped strategies' (or `strategies`') sources and filters, with their
    freshness window, over the data as of a time and a bundle's candidate models."""

    def __init__(self, strategies: Strategies | None = None) -> None:
        self.strategies = strategies or load_strategies()

    def _context(
        self,
        data: ContractData,
        builder: FeatureBuilder,
        at: pd.Timestamp,
        bundle: Bundle,
        surface: str,
    ) -> RankContext:
        freshness = pd.Timedelta(days=self.strategies.freshness_days)
        return RankContext(
            surface=surface,
            catalog=Catalog(data, at, freshness=freshness),
            features=lambda rows, s: builder.for_requests(rows, s),
            bundle=bundle,
        )

    def strategy_candidates(
        self,
        data: ContractData,
        builder: FeatureBuilder,
        at: pd.Timestamp,
        bundle: Bundle,
        surface: str,
        users: np.ndarray,
        strategy: str | None = None,
    ) -> pd.DataFrame:
        ctx = self._context(data, builder, at, bundle, surface)
        found = Pipeline(self.strategies.get(strategy, surface)).candidates(ctx, users)
        return pd.DataFrame({c: found[c].to_numpy(dtype=object) for c in PAIR})

    def source_candidates(
        self,
        data: ContractData,
        builder: FeatureBuilder,
        at: pd.Timestamp,
        bundle: Bundle,
        surface: str,
        users: np.ndarray,
    ) -> dict[str, pd.DataFrame]:
        ctx = self._context(data, builder, at, bundle, surface)
        out = {}
        for name, cls in REGISTRY["sources"].items():
            source = cls()
            if surface in cls.surfaces and isinstance(source, CandidateSource):
                out[name] = source.fetch(ctx, users)[PAIR]
        return out
