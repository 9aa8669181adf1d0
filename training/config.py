"""Training configuration, validated at load: rankers, value weights, splits, ALS."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from circlerank.errors import ConfigError
from features.config import FeatureConfig

from .als import DEFAULT_ACTION_WEIGHTS, ALSParams
from .ease import EASEParams
from .labels import FEED_LABELS, SUGGESTION_LABELS

RankerName = Literal["heads", "lambdarank", "logistic"]
RANKERS: tuple[RankerName, ...] = ("heads", "lambdarank", "logistic")


class BoosterParams(BaseModel):
    """LightGBM settings shared by the binary heads and LambdaRank."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # leaves and leaf size are where `train`'s capacity search starts when it is on
    # (training/capacity.py), and are used as given when it is off
    num_leaves: int = Field(default=15, ge=2)
    # LightGBM's usual rate: half of it needed twice the rounds (the search's small
    # trees ran into max_rounds on a 1M-event world)
    learning_rate: float = Field(default=0.1, gt=0, le=1)
    max_rounds: int = Field(default=500, ge=1)
    early_stopping_rounds: int = Field(default=40, ge=1)
    min_data_in_leaf: int = Field(default=400, ge=1)
    feature_fraction: float = Field(default=0.8, gt=0, le=1)
    # row subsampling: a `bagging_fraction` share of rows every `bagging_freq` rounds
    # (0: off; LightGBM bags only when both are set)
    bagging_fraction: float = Field(default=1.0, gt=0, le=1)
    bagging_freq: int = Field(default=0, ge=0)
    # LambdaRank: pairs are formed only with the top `lambdarank_truncation_level` of
    # each query; None keeps twice the surface's NDCG cutoff
    lambdarank_truncation_level: int | None = Field(default=None, ge=1)
    lambda_l2: float = Field(default=1.0, ge=0)
    max_bin: int = Field(default=63, ge=3)
    threads: int = Field(default=2, ge=1)


class ALSConfig(BaseModel):
    """ALS settings; the defaults are `training.als.ALSParams`' and its action weights."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    factors: int = Field(default=ALSParams.factors, gt=0)
    regularization: float = Field(default=ALSParams.regularization, ge=0)
    iterations: int = Field(default=ALSParams.iterations, gt=0)
    alpha: float = Field(default=ALSParams.alpha, gt=0)
    # confidence per action: how much each kind of engagement says about interest
    action_weights: dict[str, float] = dict(DEFAULT_ACTION_WEIGHTS)

    def params(self, seed: int) -> ALSParams:
        return ALSParams(self.factors, self.regularization, self.iterations, self.alpha, seed)


class MembershipCandidates(BaseModel):
    """How circle suggestions learn from memberships alone (no logged suggestions):
    per user, a share of memberships is hidden (with every trace of them in other
    tables), the candidate models (ALS, item-kNN, EASE) are refitted without them, and
    the hidden joins are ranked among the candidates the serving `strategy` gathers for
    the user (its sources and filters), with the candidate models' signals as features
    (training/membership_set.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # the strategy (of the shipped strategies.toml) whose candidates training ranks;
    # None: the surface's default, which serves what this path trains
    strategy: str | None = None
    hidden_share: float = Field(default=0.125, gt=0, lt=1)
    # independent hidings stacked (more queries for the ranker); each refits the models
    repeats: int = Field(default=2, ge=1)
    # per hiding, at most this many users are queries (at random) and each keeps all its
    # hidden joins and at most `negatives` other candidates (at random; the signals are
    # computed over all of them, as serving computes them): bounds the rows on a large
    # population or catalog
    queries: int = Field(default=20_000, ge=1)
    negatives: int = Field(default=400, ge=1)
    # ALS on memberships (each one unit of confidence), fitted alike for serving and for
    # every hiding: the settings that scored best on Last.fm seed 0's validation split
    # beside EASE (NDCG@10 0.1929 at 64 factors, 0.1956 at 32, 0.1932 at 8)
    als: ALSConfig = ALSConfig(factors=32, regularization=0.05, alpha=5.0, iterations=30)
    # EASE's ridge penalty and dropout (0: EASE, else DLAE; training/ease.py), picked on
    # Last.fm seed 0's validation split
    ease_l2: float = Field(default=EASEParams.l2, gt=0)
    ease_dropout: float = Field(default=EASEParams.dropout, ge=0, lt=1)

    def ease_params(self) -> EASEParams:
        return EASEParams(l2=self.ease_l2, dropout=self.ease_dropout)


class SelectionConfig(BaseModel):
    """How `train` chooses each surface's models on its validation split
    (training/capacity.py, training/selection.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # search the LightGBM models' leaves and leaf size; off, `booster` is used as given
    search_capacity: bool = True
    # the search fits on at most this many training rows (whole requests, at random)
    search_rows: int = Field(default=200_000, ge=1_000)
    # a surface of at most this many rows is refitted on its training and validation
    # rows together once chosen (a week more of data is a large share of a small
    # surface, and costs seconds); 0: never
    refit_rows: int = Field(default=200_000, ge=0)


def _check_weights(value: dict[str, float], labels: tuple[str, ...]) -> dict[str, float]:
    unknown = sorted(set(value) - set(labels))
    if unknown:
        raise ValueError(f"unknown labels {unknown}; valid: {', '.join(labels)}")
    if not any(w > 0 for w in value.values()):
        raise ValueError("at least one label needs a positive weight")
    return value


class TrainConfig(BaseModel):
    """Every tunable of `circlerank train`; the defaults are the shipped values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    features: FeatureConfig = FeatureConfig()
    rankers: tuple[RankerName, ...] = RANKERS
    # the last `validation_days` before the cut-off are held out for early stopping
    validation_days: float = Field(default=7.0, gt=0)
    # "feature": logged position is a model input, fixed to 0 at serving;
    # "ipw": positives weighted by 1 / P(examined | position), estimated from the logs
    position_bias: Literal["feature", "ipw", "none"] = "feature"
    feed_value_weights: dict[str, float] = {
        "click": 1.0,
        "like": 0.3,
        "comment": 0.3,
        "share": 0.3,
        "hide": -1.0,
        "report": -3.0,
    }
    suggestion_value_weights: dict[str, float] = {"join": 1.0, "dismiss": -0.05}
    booster: BoosterParams = BoosterParams()
    # share of impressions without any action the heads train on (weighted back up), on
    # training sets of more than `sample_negatives_above` rows (smaller ones keep all:
    # the sampling is for speed, and a small surface needs every row)
    negative_rate: float = Field(default=0.25, gt=0, le=1)
    sample_negatives_above: int = Field(default=100_000, ge=0)
    selection: SelectionConfig = SelectionConfig()
    als: ALSConfig = ALSConfig()
    membership_candidates: MembershipCandidates = MembershipCandidates()
    seed: int = 0

    @field_validator("feed_value_weights")
    @classmethod
    def _feed(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_weights(value, FEED_LABELS)

    @field_validator("suggestion_value_weights")
    @classmethod
    def _suggestions(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_weights(value, SUGGESTION_LABELS)

    @field_validator("rankers")
    @classmethod
    def _heads_first(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "heads" not in value:
            raise ValueError("rankers must include 'heads' (the default scorer)")
        return value

    def negative_rate_for(self, rows: int) -> float:
        """The heads' negative sampling rate for a training set of `rows` rows."""
        return self.negative_rate if rows > self.sample_negatives_above else 1.0

    def value_weights(self, surface: str) -> dict[str, float]:
        return self.feed_value_weights if surface == "feed" else self.suggestion_value_weights

    @classmethod
    def load(cls, path: str | Path | None) -> TrainConfig:
        """Read a TOML file with optional [features] and [training] tables."""
        if path is None:
            return cls()
        import tomllib

        try:
            raw = tomllib.loads(Path(path).read_text())
            merged = {**raw.get("training", {}), "features": raw.get("features", {})}
            return cls.model_validate(merged)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read training config: {exc}") from exc
        except ValidationError as exc:
            raise ConfigError(f"{path}: invalid training config: {exc}") from exc
