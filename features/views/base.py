"""The feature-view contract: a named, documented aggregation of one keyed stream.

A view turns (stream, queries) into features, where queries hold the view's key
columns and `as_of`; it only ever sees stream rows strictly before each as_of. The same
view serves training (as_of = each impression's time) and serving (as_of = now), and
runs unchanged per key-partition on a Dask cluster (the first key is the partition key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import pandas as pd

from ..config import FeatureConfig
from ..contract import ContractData
from ..streams import Vocabulary

VECTOR_PREFIX = "vec_"  # columns that feed cross features, not models


@dataclass(frozen=True)
class ViewParams:
    """What an aggregation needs besides its stream: small, picklable, shared by workers."""

    config: FeatureConfig
    vocab: Vocabulary
    reference: pd.Timestamp  # anchors decay arithmetic so every engine rounds alike
    # the vector columns a caller reads (None: all). Training rows need only those the
    # cross features use; the user's 246 category shares would otherwise dominate the
    # cost and memory of every training set
    vectors: frozenset[str] | None = None

    def wants(self, column: str) -> bool:
        """Whether to compute a column: every scalar, and the vectors asked for."""
        if self.vectors is None or not column.startswith(VECTOR_PREFIX):
            return True
        return column in self.vectors


class Streams:
    """Derives each stream from the contract tables once, on first use."""

    def __init__(self, data: ContractData, config: FeatureConfig) -> None:
        self.data = data
        self.config = config
        self.vocab = Vocabulary.of(data)
        self._cache: dict[str, pd.DataFrame] = {}

    def get(self, name: str, build: Callable[[Streams], pd.DataFrame]) -> pd.DataFrame:
        if name not in self._cache:
            self._cache[name] = build(self)
        return self._cache[name]


Aggregate = Callable[[pd.DataFrame, pd.DataFrame, ViewParams], pd.DataFrame]


@dataclass(frozen=True)
class FeatureView:
    name: str
    entity: str  # a key of ENTITY_KEYS: user, post, ..., circle_city, population
    keys: tuple[str, ...]
    sources: tuple[str, ...]  # contract tables; the view is off when one is absent
    description: str
    stream: Callable[[Streams], pd.DataFrame]
    aggregate: Aggregate
    cadence: Literal["exact", "day"] = "exact"  # "day": as of the start of as_of's UTC day
    model_input: bool = True  # False: for filters and explanations only (e.g. credit)

    @cached_property
    def partition_key(self) -> str:
        return self.keys[0]

    def available(self, data: ContractData) -> bool:
        return all(data.has(t) for t in self.sources)
