"""Scorers: one number per candidate, higher first."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from circlerank.arrays import by_user_then, one_user, ranks_within
from circlerank.errors import ModelError
from circlerank.frames import values_of
from features.rows import ModelRows
from training.dataset import POSITION, PRIMARY
from training.heads import HeadsRanker
from training.logistic import LogisticRanker
from training.ranker import Ranker, inputs
from training.signals import SIGNALS, with_signals

from .catalog import lookup
from .components import RankContext, Scorer, candidate_users


def _model_rows(
    ctx: RankContext, candidates: pd.DataFrame, features: ModelRows | None
) -> ModelRows:
    """The models' input rows of `candidates`: their features, position 0 and, when the
    surface's rankers learned from candidate signals (circle suggestions learned from
    memberships), the signals of the bundle's candidate models over these candidates."""
    if features is None:
        raise ModelError("this scorer needs features, but the pipeline has none")
    # position was a training input to absorb the logging policy's slot bias; serving
    # asks every item how it would do in the top slot
    rows = features.assign(**{POSITION: 0.0})
    bundle = ctx.bundle
    rankers = bundle.rankers.get(ctx.surface, {}).values() if bundle is not None else ()
    if bundle is not None and any(set(SIGNALS) & set(r.features) for r in rankers):
        rows = with_signals(
            rows,
            values_of(candidates, "user_id", object),
            values_of(candidates, "item_id", object),
            bundle.candidate_models(ctx.surface),
        )
    return rows


def _ranker(ctx: RankContext, scorer: str, name: str) -> Ranker:
    """The bundle's ranker `name` for the request's surface."""
    if ctx.bundle is None:
        raise ModelError(f"scorer '{scorer}' needs a model bundle; none is loaded")
    return ctx.bundle.ranker(ctx.surface, name)


class _ModelScorer(Scorer):
    ranker: ClassVar[str]

    def score(
        self, ctx: RankContext, candidates: pd.DataFrame, features: ModelRows | None
    ) -> np.ndarray:
        return _ranker(ctx, self.name, self.ranker).score(_model_rows(ctx, candidates, features))


class ValueParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # the full value is computed for each user's `shortlist` candidates most likely to
    # get the primary action; None scores every candidate with every head. On a world
    # of seed 3, share of oracle@10 of `community` was 0.7066 at 300, 0.7075 at 50
    # and 0.7086 at 20, and the five secondary heads cost most of the scoring at 300
    shortlist: int | None = Field(default=50, ge=1)
    # the shortlist is chosen by the primary head's first `prefilter_trees` trees, and
    # the full head scores it: a cheaper first stage (the shipped feed strategies set
    # it, see strategies.toml); None chooses by the full head
    prefilter_trees: int | None = Field(default=None, ge=1)


class ValueScorer(Scorer[ValueParams]):
    """The weighted sum of the LightGBM heads' action probabilities (the default).

    A cascade: the primary head (click, join), or its first `prefilter_trees` trees,
    predicts every candidate, and every head scores each user's `shortlist` most likely
    ones. Candidates off the shortlist score below all on it, in first-stage order (so
    deep pages still fill). Below the shortlist size, the value of every candidate is
    exact."""

    name = "value"
    Params: ClassVar[type[BaseModel]] = ValueParams

    def prepare(self, ctx: RankContext) -> None:
        bundle = ctx.bundle
        heads = bundle.rankers.get(ctx.surface, {}).get("heads") if bundle is not None else None
        if isinstance(heads, HeadsRanker):
            heads.predictor_of(PRIMARY[ctx.surface], self.params.prefilter_trees)

    def score(
        self, ctx: RankContext, candidates: pd.DataFrame, features: ModelRows | None
    ) -> np.ndarray:
        heads = _ranker(ctx, self.name, "heads")
        assert isinstance(heads, HeadsRanker)
        x = inputs(_model_rows(ctx, candidates, features), heads.features)
        shortlist = self.params.shortlist
        user = candidate_users(candidates)
        if shortlist is None or np.bincount(user).max() <= shortlist:
            return heads.value(x)
        primary = PRIMARY[ctx.surface]
        stage = heads.predictor_of(primary, self.params.prefilter_trees)
        first = stage.predict(x)
        kept = _within_top(user, first, shortlist)
        value = np.empty(len(x))
        exact = stage is heads.predictor_of(primary)
        known = first[kept] if exact else heads.predict(x[kept], primary)
        value[kept] = heads.value(x[kept], known={primary: known})
        # off the list: below the lowest value on the user's own list (never another
        # user's: a user's scores must not depend on the batch), in first-stage order,
        # and never tied (equal probabilities follow candidate order): ties would make
        # every later sort break them by item id, which costs more than the cascade saves
        off = np.flatnonzero(~kept)
        if len(off):
            floor = np.full(user.max() + 1, np.inf)
            np.minimum.at(floor, user[kept], value[kept])
            order = off[by_user_then(user[off], -first[off])]
            rank = ranks_within(user[order]) + 1
            count = np.bincount(user[order], minlength=len(floor))[user[order]]
            value[order] = floor[user[order]] - 1.0 - rank / count
        return value


class LambdaRankScorer(_ModelScorer):
    name = "lambdarank"
    ranker = "lambdarank"


class LogisticScorer(_ModelScorer):
    name = "logistic"
    ranker = "logistic"


class BlendParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    heads: float = Field(default=0.5, ge=0)
    logistic: float = Field(default=0.5, ge=0)
    # the bundle's ALS score, standardized within each user's candidates
    als: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> BlendParams:
        if self.heads + self.logistic + self.als <= 0:
            raise ValueError("blend needs a positive weight on heads, logistic or als")
        return self


class BlendScorer(Scorer[BlendParams]):
    """Weighted log-odds of the primary action (click, join) from the LightGBM head and
    the logistic regression. They err differently (trees cut signals into steps, the
    linear model extrapolates smooth ones such as interest lift); `train` fits the
    weights on its validation split (training/selection.py) and `auto` serves them."""

    name = "blend"
    Params: ClassVar[type[BaseModel]] = BlendParams

    def score(
        self, ctx: RankContext, candidates: pd.DataFrame, features: ModelRows | None
    ) -> np.ndarray:
        rows = _model_rows(ctx, candidates, features)
        out = np.zeros(len(rows))
        if self.params.heads > 0:
            heads = _ranker(ctx, self.name, "heads")
            assert isinstance(heads, HeadsRanker)
            p = np.clip(heads.probability(rows, PRIMARY[ctx.surface]), 1e-9, 1 - 1e-9)
            out += self.params.heads * np.log(p / (1 - p))
        if self.params.logistic > 0:
            logistic = _ranker(ctx, self.name, "logistic")
            assert isinstance(logistic, LogisticRanker)
            out += self.params.logistic * logistic.logit(rows)
        if self.params.als > 0:
            out += self.params.als * _als_standardized(ctx, candidates)
        return out


class AutoScorer(Scorer[ValueParams]):
    """What `train` chose for the surface on its validation split (the manifest's
    `selection`: the heads' value, a fitted blend, the logistic regression or
    LambdaRank); the heads' value for a bundle without a choice. The params are the
    value scorer's, used when the choice is the value."""

    name = "auto"
    Params: ClassVar[type[BaseModel]] = ValueParams

    def __init__(self, params: ValueParams | None = None) -> None:
        super().__init__(params)
        self._chosen: dict[tuple[str, str], Scorer] = {}  # (bundle version, surface)

    def chosen(self, ctx: RankContext) -> Scorer:
        """The scorer serving the bundle's choice for the request's surface."""
        if ctx.bundle is None:
            raise ModelError(f"scorer '{self.name}' needs a model bundle; none is loaded")
        key = (ctx.bundle.version, ctx.surface)
        if key not in self._chosen:
            choice = ctx.bundle.manifest.get("selection", {}).get(ctx.surface, {})
            name = choice.get("scorer", ValueScorer.name)
            cls = next((c for c in SCORERS if c.name == name), None)
            if cls is None or not cls.needs_features:
                raise ModelError(
                    f"bundle {ctx.bundle.version} chose scorer {name!r} for {ctx.surface}, "
                    "which this engine cannot serve"
                )
            params = self.params if cls is ValueScorer else choice.get("params", {})
            self._chosen[key] = cls(cls.Params.model_validate(params))
        return self._chosen[key]

    def prepare(self, ctx: RankContext) -> None:
        if ctx.bundle is not None:
            self.chosen(ctx).prepare(ctx)

    def score(
        self, ctx: RankContext, candidates: pd.DataFrame, features: ModelRows | None
    ) -> np.ndarray:
        return self.chosen(ctx).score(ctx, candidates, features)


def _within_top(user: np.ndarray, score: np.ndarray, n: int) -> np.ndarray:
    """Whether each row is among its user's `n` highest scores (ties by row order,
    NaN lowest)."""
    if len(user) > n and one_user(user):
        return _one_users_top(score, n)
    order = by_user_then(user, -score)
    kept = np.zeros(len(order), dtype=bool)
    kept[order[ranks_within(user[order]) < n]] = True
    return kept


def _one_users_top(score: np.ndarray, n: int) -> np.ndarray:
    """`_within_top` of one user's rows: a partition, not a sort (the API's case)."""
    nth = -np.partition(-score, n - 1)[n - 1]  # NaN sorts last: the nth highest or NaN
    if np.isnan(nth):
        kept = ~np.isnan(score)
        tied = np.flatnonzero(~kept)
    else:
        kept = score > nth
        tied = np.flatnonzero(score == nth)
    kept[tied[: n - int(kept.sum())]] = True
    return kept


def _als_standardized(ctx: RankContext, candidates: pd.DataFrame) -> np.ndarray:
    """The ALS dot product of each candidate, as z-scores within its user's candidates
    (0 where the user or item has no factors)."""
    model = ctx.bundle.als.get(ctx.surface) if ctx.bundle is not None else None
    if model is None:
        raise ModelError(f"blend with an ALS weight needs the bundle's ALS for {ctx.surface}")
    score = model.score(
        values_of(candidates, "user_id", object), values_of(candidates, "item_id", object)
    )
    user = candidate_users(candidates)
    known = np.isfinite(score)
    n = np.bincount(user[known], minlength=user.max() + 1).astype(np.float64)
    total = np.bincount(user[known], weights=score[known], minlength=len(n))
    squares = np.bincount(user[known], weights=score[known] ** 2, minlength=len(n))
    mean = np.divide(total, n, out=np.zeros(len(n)), where=n > 0)
    std = np.sqrt(np.maximum(np.divide(squares, n, out=np.zeros(len(n)), where=n > 0) - mean**2, 0))
    z = (score - mean[user]) / np.where(std[user] > 0, std[user], 1.0)
    return np.where(known, z, 0.0)


class Chronological(Scorer):
    """Newest first (posts) or newest circle first: the status quo."""

    name = "chronological"
    needs_features = False

    def score(
        self, ctx: RankContext, candidates: pd.DataFrame, features: ModelRows | None
    ) -> np.ndarray:
        created = lookup(
            ctx.catalog.item_index.table(ctx.surface)["created_at"], candidates["item_id"]
        )
        return (created - ctx.as_of).dt.total_seconds().to_numpy(np.float64, na_value=-1e18)


class Popularity(Scorer):
    """Time-decayed engagement (posts) or recent joins (circles)."""

    name = "popularity"
    needs_features = False

    def score(
        self, ctx: RankContext, candidates: pd.DataFrame, features: ModelRows | None
    ) -> np.ndarray:
        popularity = lookup(ctx.catalog.item_index.popularity(ctx.surface), candidates["item_id"])
        return popularity.fillna(0.0).to_numpy(dtype=np.float64)


class RandomParams(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    salt: str = "random"


class RandomScorer(Scorer[RandomParams]):
    """A stable pseudo-random order per (user, item): the floor any ranker must beat."""

    name = "random"
    needs_features = False
    Params: ClassVar[type[BaseModel]] = RandomParams

    def score(
        self, ctx: RankContext, candidates: pd.DataFrame, features: ModelRows | None
    ) -> np.ndarray:
        keys = candidates["user_id"].astype("str") + "|" + candidates["item_id"].astype("str")
        hashed = pd.util.hash_array(
            keys.to_numpy(dtype=object), hash_key=self.params.salt[:16].ljust(16, "0")
        )
        return (hashed >> np.uint64(11)).astype(np.float64) / 2.0**53


SCORERS: tuple[type[Scorer], ...] = (
    AutoScorer,
    ValueScorer,
    BlendScorer,
    LambdaRankScorer,
    LogisticScorer,
    Chronological,
    Popularity,
    RandomScorer,
)
