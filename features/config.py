"""Feature configuration, validated at load: windows, decay, smoothing, vocabularies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from circlerank.errors import ConfigError


class FeatureConfig(BaseModel):
    """Every tunable of the feature layer; the defaults are the shipped values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    windows_days: tuple[int, ...] = Field(default=(7, 30, 90), min_length=1)
    half_life_days: float = Field(default=7.0, gt=0)
    prior_rate: float = Field(default=0.05, gt=0, lt=1)  # smoothed rates shrink toward it
    prior_strength: float = Field(default=20.0, gt=0)  # in pseudo-impressions
    new_creator_days: int = Field(default=14, gt=0)
    growth_days: int = Field(default=7, gt=0)
    profile_days: int = Field(default=90, gt=0)  # window of interest profiles
    campus_marker: str = Field(default="campus", min_length=1)  # in category names

    @field_validator("windows_days")
    @classmethod
    def _positive_sorted(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(v <= 0 for v in value) or list(value) != sorted(set(value)):
            raise ValueError(f"windows_days must be positive and increasing, got {value}")
        return value

    @property
    def windows(self) -> tuple[pd.Timedelta, ...]:
        return tuple(pd.Timedelta(days=d) for d in self.windows_days)

    @property
    def half_life(self) -> pd.Timedelta:
        return pd.Timedelta(days=self.half_life_days)

    def smoothed(self, hits: np.ndarray, trials: np.ndarray) -> np.ndarray:
        """(hits + a p0) / (trials + a): a rate that is sane with little data."""
        a = self.prior_strength
        return (hits + a * self.prior_rate) / (trials + a)

    @classmethod
    def load(cls, path: str | Path | None) -> FeatureConfig:
        """Read a TOML file (table [features] or top level); None gives the defaults."""
        if path is None:
            return cls()
        import tomllib

        try:
            raw = tomllib.loads(Path(path).read_text())
            return cls.model_validate(raw.get("features", raw))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read feature config: {exc}") from exc
        except ValidationError as exc:
            raise ConfigError(f"{path}: invalid feature config: {exc}") from exc
