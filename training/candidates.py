"""What training asks of the serving pipeline's candidate generation.

Candidate sources and filters live in `ranking`, which serves trained bundles; data
flows one way, so training never imports it. `train` takes a `CandidateGenerator`
instead, and the command line passes `ranking.for_training.ServingCandidates`: the
strategies' own sources and filters, so training sees the candidates serving will rank.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from features.compute import FeatureBuilder
from features.contract import ContractData

if TYPE_CHECKING:
    from .bundle import Bundle


class CandidateGenerator(Protocol):
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
        """The (user_id, item_id) pairs the strategy (None: the surface's default) ranks
        for `users` as of `at`: its sources' candidates its filters keep."""
        ...

    def source_candidates(
        self,
        data: ContractData,
        builder: FeatureBuilder,
        at: pd.Timestamp,
        bundle: Bundle,
        surface: str,
        users: np.ndarray,
    ) -> dict[str, pd.DataFrame]:
        """Every candidate source of the surface: its (user_id, item_id) pairs for
        `users` as of `at`, each user's best first."""
        ...
