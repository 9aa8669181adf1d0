"""Experiments in config: arms with traffic shares, each serving one strategy, and
sticky assignment by a hash of (salt, user_id).

    [experiments.feed_ranker]
    surface = "feed"
    salt = "feed-ranker-2026-11"
    start = 2026-11-01T00:00:00Z      # optional; wall-clock window the experiment runs in
    stop = 2026-12-01T00:00:00Z
    control = "control"               # optional; default the arm named "control", else
                                      # the first arm

    [[experiments.feed_ranker.arms]]
    name = "control"
    share = 0.45
    strategy = "community"            # optional; default the surface's default

    [[experiments.feed_ranker.arms]]
    name = "explore"
    share = 0.55
    strategy = "community"
    exploration = { kind = "epsilon_greedy", epsilon = 0.2, pool = 30 }

A user outside every running experiment of a surface gets the arm "default" (the
surface's default strategy). Two experiments on one surface may not overlap in time,
so a user is never in two at once.

An arm is drawn on a session's first page only. Its cursor pins the arm, experiment,
strategy and exploration (ranking/cursor.py), so every later page is served and logged
as the first was, even if the experiment stopped or its config changed meanwhile (for
at most the cursor's lifetime). Pages whose strategy the caller named are logged under
arm "requested", outage fallback pages under "fallback"; neither is ever logged under an
experiment, and no experiment may name an arm like these.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from circlerank.errors import ConfigError
from ranking.components import SURFACES
from ranking.explore import Exploration
from ranking.strategy import Strategies

DEFAULT_ARM = "default"  # a user outside every running experiment: the surface's default
REQUESTED_ARM = "requested"  # the caller named the strategy: no experiment applies
FALLBACK_ARM = "fallback"  # the online store was unreachable: the surface's fallback
# the arms that are not an experiment's: analyses leave their events out
NON_EXPERIMENT_ARMS = (DEFAULT_ARM, REQUESTED_ARM, FALLBACK_ARM)
CONTROL_ARM = "control"  # the control, unless one is named
_SCALE = float(1 << 64)


class Arm(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    share: float = Field(gt=0, le=1)
    strategy: str | None = None  # none = the surface's default strategy
    exploration: Exploration | None = None
    # two strategies whose pages are team-draft interleaved (one page, no cursor)
    interleave: tuple[str, str] | None = None

    @model_validator(mode="after")
    def _one_policy(self) -> Arm:
        if self.interleave is not None and (self.strategy or self.exploration):
            raise ValueError(f"arm {self.name}: interleave excludes strategy and exploration")
        if self.interleave is not None and self.interleave[0] == self.interleave[1]:
            raise ValueError(f"arm {self.name}: interleave needs two different strategies")
        return self


class Experiment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    surface: str
    salt: str = Field(min_length=1)
    arms: tuple[Arm, ...] = Field(min_length=1)
    start: datetime | None = None
    stop: datetime | None = None
    control: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        if self.surface not in SURFACES:
            raise ValueError(f"unknown surface {self.surface!r}; valid: {', '.join(SURFACES)}")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names repeat: {names}")
        reserved = [n for n in names if n in NON_EXPERIMENT_ARMS]
        if reserved:
            raise ValueError(
                f"arm name {reserved[0]!r} is reserved for pages outside experiments "
                f"({', '.join(NON_EXPERIMENT_ARMS)}); rename that arm"
            )
        total = sum(a.share for a in self.arms)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"arm shares sum to {total:.6g}, not 1")
        if self.control is not None and self.control not in names:
            raise ValueError(f"control {self.control!r} is not an arm; arms: {names}")
        for bound in (self.start, self.stop):
            if bound is not None and bound.tzinfo is None:
                raise ValueError("start and stop need a time zone (e.g. 2026-11-01T00:00:00Z)")
        if self.start and self.stop and self.start >= self.stop:
            raise ValueError(f"start {self.start} is not before stop {self.stop}")
        return self

    @property
    def control_arm(self) -> str:
        """`control` if set, else the arm named "control", else the first arm."""
        names = [a.name for a in self.arms]
        if self.control is not None:
            return self.control
        return CONTROL_ARM if CONTROL_ARM in names else names[0]

    @property
    def window(self) -> tuple[float, float]:
        """[start, stop) in Unix seconds, unbounded sides infinite."""
        start = self.start.timestamp() if self.start else -math.inf
        return start, self.stop.timestamp() if self.stop else math.inf

    def running(self, now: datetime) -> bool:
        return (self.start is None or self.start <= now) and (self.stop is None or now < self.stop)

    def bucket(self, user_id: str) -> float:
        """The user's stable point in [0, 1) for this experiment."""
        raw = hashlib.sha256(f"{self.salt}\x00{user_id}".encode()).digest()[:8]
        return int.from_bytes(raw, "big") / _SCALE

    def arm_for(self, user_id: str) -> Arm:
        point, edge = self.bucket(user_id), 0.0
        for arm in self.arms:
            edge += arm.share
            if point < edge:
                return arm
        return self.arms[-1]  # the shares' float sum fell short of 1 by rounding


@dataclass(frozen=True)
class Assignment:
    """What a page is ranked with and logged under."""

    experiment: str | None
    arm: str
    strategy: str | None  # none = the surface's default
    exploration: Exploration | None
    interleave: tuple[str, str] | None = None


class Experiments(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    experiments: dict[str, Experiment] = {}

    @model_validator(mode="after")
    def _no_overlap(self) -> Experiments:
        items = list(self.experiments.values())
        for i, a in enumerate(items):
            for b in items[i + 1 :]:
                if a.surface != b.surface:
                    continue
                (a0, a1), (b0, b1) = a.window, b.window
                if a0 < b1 and b0 < a1:
                    raise ValueError(
                        f"experiments {a.name!r} and {b.name!r} both run on {a.surface} at "
                        "overlapping times; a user could be in both"
                    )
        return self

    def assign(self, surface: str, user_id: str, now: datetime) -> Assignment:
        for experiment in self.experiments.values():
            if experiment.surface == surface and experiment.running(now):
                arm = experiment.arm_for(user_id)
                return Assignment(
                    experiment.name, arm.name, arm.strategy, arm.exploration, arm.interleave
                )
        return Assignment(None, DEFAULT_ARM, None, None)

    def check_strategies(self, strategies: Strategies) -> None:
        """ConfigError unless every arm's strategy exists for its experiment's surface."""
        for experiment in self.experiments.values():
            for arm in experiment.arms:
                try:
                    for name in arm.interleave or (arm.strategy,):
                        strategies.get(name, experiment.surface)
                except ConfigError as exc:
                    raise ConfigError(
                        f"experiment {experiment.name!r}, arm {arm.name!r}: {exc}"
                    ) from None


def load_experiments(path: str | Path | None, strategies: Strategies) -> Experiments:
    """Experiments from a TOML file (None = none), validated against the strategies."""
    if path is None:
        return Experiments()
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
        for name, body in raw.get("experiments", {}).items():
            body.setdefault("name", name)
        experiments = Experiments.model_validate(raw)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"experiments {path}: cannot read ({exc})") from exc
    except ValidationError as exc:
        raise ConfigError(f"experiments {path}: {exc}") from None
    experiments.check_strategies(strategies)
    return experiments
