"""The contracts of pipeline components: candidate sources, filters, scorers and
re-rankers. Each is a small class with a stable `name`, registered by name so a
strategy (ranking/strategy.py) can declare a pipeline as data.

Frames passed between components have one row per (user_id, item_id) candidate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar, cast

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from circlerank.arrays import best_first, user_codes
from circlerank.frames import values_of
from features.rows import ModelRows

from .catalog import Catalog
from .feed_index import USER

if TYPE_CHECKING:
    from training.bundle import Bundle

SURFACES = ("feed", "circle_suggestions")
FeatureLookup = Callable[[pd.DataFrame, str], ModelRows]


class NoParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass
class RankContext:
    """Everything a request's components may read."""

    surface: str
    catalog: Catalog
    features: FeatureLookup | None  # (user_id, item_id, as_of) rows -> feature rows
    bundle: Bundle | None
    seed: int = 0

    @property
    def as_of(self) -> pd.Timestamp:
        return self.catalog.as_of


P = TypeVar("P", bound=BaseModel)


class Component(ABC, Generic[P]):
    """A pipeline component. One with parameters names their model twice: as `Params`
    (the class a strategy's TOML is validated against) and as the type argument (the
    type of `self.params`), e.g. `class AlreadySeen(Filter[Window])`."""

    name: ClassVar[str]
    surfaces: ClassVar[tuple[str, ...]] = SURFACES
    Params: ClassVar[type[BaseModel]] = NoParams
    params: P

    def __init__(self, params: P | None = None) -> None:
        self.params = params if params is not None else cast(P, self.Params())


class CandidateSource(Component[P]):
    @abstractmethod
    def fetch(self, ctx: RankContext, users: np.ndarray) -> pd.DataFrame:
        """user_id, item_id rows for the users (any order, may repeat); optionally
        each item's ROW in `catalog.item_index.table(surface)` when the source knows it (saves the
        pipeline a lookup per item)."""


class Filter(Component[P]):
    reason: ClassVar[str]

    @abstractmethod
    def keep(self, ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
        """A bool per candidate row: True to keep it."""


class Scorer(Component[P]):
    needs_features: ClassVar[bool] = True

    def prepare(self, ctx: RankContext) -> None:
        """Make ready what scoring in `ctx` will need (a model to compile, say), so that
        no request pays for it; called before a bundle serves."""

    @abstractmethod
    def score(
        self, ctx: RankContext, candidates: pd.DataFrame, features: ModelRows | None
    ) -> np.ndarray:
        """Higher is better, one float per candidate row."""


@dataclass
class Slate:
    """The scored candidates a re-ranker adjusts, as parallel arrays: one entry per
    (user, item), with the item's row in `catalog.item_index.table(surface)` (-1: not a live item)
    so re-rankers read item facts by position, once per request."""

    user: np.ndarray  # object ids
    item: np.ndarray  # object ids
    row: np.ndarray  # int64
    score: np.ndarray  # float64
    codes: np.ndarray | None = None  # the users' codes in id order, when known

    @cached_property
    def user_codes(self) -> np.ndarray:
        """Integer codes of the users, in id order (the users never change)."""
        return self.codes if self.codes is not None else user_codes(self.user)

    def order(self) -> np.ndarray:
        """Entry indices by user, then score descending, then item id."""
        return best_first(self.user_codes, self.item, self.score)


class ReRanker(Component[P]):
    @abstractmethod
    def rerank(self, ctx: RankContext, slate: Slate) -> np.ndarray:
        """New scores for the slate's entries (same order as the slate)."""


def candidate_users(candidates: pd.DataFrame) -> np.ndarray:
    """Each candidate row's user as an integer code in id order."""
    if USER in candidates:
        return values_of(candidates, USER, np.int64)
    return user_codes(values_of(candidates, "user_id", object))
