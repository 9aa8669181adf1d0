"""Rehearse a feed experiment in a closed loop: the simulator's users split into two
sticky arms by the server's salted hash, each arm's feed served from `start_day` on by
a simulator policy or an engine strategy, everyone on the pre-period policy before
(the control's when it is a simulator policy, else `logging`). Suggestions stay on the
simulator's logging policy throughout.

Two designs:
- `split`: one world, as the live experiment would run. Arms share circles, so a
  creator's posts reach readers of both arms: a creator-side effect shows diluted.
- `worlds`: the world is forked at the start day and each arm's strategy serves every
  user of its own copy; each arm's users are read from their arm's copy. No
  interference: the effect a launch to everyone would have. The copies draw the same
  random numbers where they can (common random numbers), and share the bundle trained
  at the start day (their tables are the same up to it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from circlerank.errors import ConfigError
from circlerank.progress import step, track
from ranking.pipeline import Pipeline
from ranking.strategy import Strategies, load_strategies
from serving.experiments import Arm, Experiment
from training.bundle import Bundle
from training.config import TrainConfig

from ..ab import Analysis, Design, analyse
from ..abstats import Effect
from ..closed_loop import PRE_ARM, strategy
from ..simulator.config import US_PER_DAY, SimConfig
from ..simulator.loop import DayLoop, LogResult, Policies
from ..simulator.world import World, build_world
from ..simulator.writer import events_table
from .analysis import (
    ArmData,
    creator_share_sequential,
    effects,
    launch_effects,
    series,
    subset,
)
from .arms import ArmSpec, arm_spec
from .engine import EngineFeed, Ranked
from .measures import Window, daily, per_user
from .server import ArmServer

SPLIT = "world"  # the one loop of the split design


class Rehearsal(BaseModel):
    """A rehearsal's settings (the world's are a SimConfig), validated at construction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    control: str = "logging"
    treatment: str = "short"
    start_day: int = Field(default=7, ge=1)
    retrain_days: int | None = Field(default=None, ge=1)
    design: Literal["split", "worlds"] = "split"
    salt: str = "rehearsal"
    workers: int = Field(default=1, ge=1)  # processes ranking an engine arm's users


class LoopEngine(Protocol):
    """What serves the engine arms of one running loop."""

    bundle: Bundle | None
    trained_days: list[int]

    def refresh(self, day: int) -> None: ...

    def pages(self, day: int, strategy: str, users: np.ndarray, limit: int) -> Ranked: ...

    def close(self) -> None: ...


EngineFactory = Callable[[DayLoop, Strategies, Rehearsal, bool], LoopEngine]


def engine_feed(
    loop: DayLoop, strategies: Strategies, settings: Rehearsal, needs_bundle: bool
) -> LoopEngine:
    return EngineFeed(
        loop,
        strategies,
        settings.start_day,
        settings.retrain_days,
        workers=settings.workers,
        needs_bundle=needs_bundle,
    )


@dataclass
class Outcome:
    """A rehearsal's result: the labelled feed events, the analysis (ab's, with the
    community measures added), its JSON (`ab --json`'s shape, plus the daily series
    and creator_share's sequential looks) and each loop's logs."""

    events: pd.DataFrame
    analysis: Analysis
    report: dict[str, Any]
    logs: dict[str, LogResult]  # design split: {"world": ...}; worlds: per arm
    world: World
    seconds: float
    trained_days: list[int] = field(default_factory=list)


@dataclass
class _Plan:
    names: list[str]  # arm names (the treatment's gets "_arm" in an A/A)
    served: list[ArmSpec]  # what serves each arm
    experiment: Experiment
    policies: dict[str, Any]  # simulator policy name -> SlatePolicy
    pre: Any
    needs_bundle: bool


def _plan(config: SimConfig, settings: Rehearsal, strategies: Strategies) -> _Plan:
    if not 0 < settings.start_day < config.days:
        raise ConfigError(
            f"start_day must be within the {config.days} days, got {settings.start_day}"
        )
    served = [arm_spec(settings.control, strategies), arm_spec(settings.treatment, strategies)]
    names = [settings.control, settings.treatment]
    if names[0] == names[1]:
        names[1] += "_arm"
    experiment = Experiment(
        name=f"{settings.control}_vs_{settings.treatment}",
        surface="feed",
        salt=settings.salt,
        arms=(Arm(name=names[0], share=0.5), Arm(name=names[1], share=0.5)),
        control=names[0],
    )
    policies = {s.name: strategy(s.name, config) for s in served if not s.engine}
    pre = policies.get(served[0].name) or strategy("logging", config)
    needs_bundle = any(
        Pipeline(strategies.get(s.name, "feed")).scorer.needs_features for s in served if s.engine
    )
    validation = TrainConfig().validation_days
    if needs_bundle and settings.start_day <= validation:
        raise ConfigError(
            f"an engine strategy's bundle is trained on the days before the start day, "
            f"{validation} of them held out to validate: start_day must be more than "
            f"{validation}, got {settings.start_day}"
        )
    return _Plan(names, served, experiment, policies, pre, needs_bundle)


def rehearse(
    config: SimConfig,
    settings: Rehearsal,
    strategies: Strategies | None = None,
    make_engine: EngineFactory = engine_feed,
) -> Outcome:
    """Run the rehearsal and analyse it."""
    started = time.perf_counter()
    strategies = strategies or load_strategies()
    plan = _plan(config, settings, strategies)
    world = build_world(config)
    arm_of_user = np.array(
        [plan.names.index(plan.experiment.arm_for(u).name) for u in world.users.ids]
    )
    everyone = np.zeros(len(arm_of_user), dtype=np.int64)

    def serving(assign: np.ndarray, arms: list[ArmSpec]) -> Policies:
        feed = ArmServer(arms, assign, plan.policies, plan.pre, settings.start_day)
        return Policies(feed, strategy("logging", config))

    split = settings.design == "split"
    first = serving(arm_of_user, plan.served) if split else serving(everyone, [])
    loops = {SPLIT: DayLoop(world, first)}
    engines: dict[str, LoopEngine] = {}
    try:
        for day in track(range(config.days), desc="rehearse: days", unit="day"):
            if day == settings.start_day:
                if not split:
                    start = loops.pop(SPLIT)
                    loops = {
                        n: start.fork(serving(everyone, [arm]))
                        for n, arm in zip(plan.names, plan.served, strict=True)
                    }
                engines = _engines(loops, strategies, settings, plan, make_engine)
            with step(f"rehearse: day {day + 1} of {config.days}"):
                shared: Bundle | None = None
                for name, loop in loops.items():
                    engine = engines.get(name)
                    if engine is not None:
                        if engine.bundle is None and shared is not None:
                            engine.bundle = shared  # the same tables so far: the same bundle
                        engine.refresh(day)
                        shared = shared if day != settings.start_day else engine.bundle
                    loop.run_day(day)
    finally:
        for engine in engines.values():
            engine.close()
    trained = sorted({d for e in engines.values() for d in e.trained_days})
    logs = {name: loop.logs() for name, loop in loops.items()}
    outcome = _analyse(config, settings, plan, world, logs, arm_of_user)
    outcome.seconds = time.perf_counter() - started
    outcome.trained_days = trained
    outcome.report["trained_days"] = trained
    return outcome


def _engines(
    loops: dict[str, DayLoop],
    strategies: Strategies,
    settings: Rehearsal,
    plan: _Plan,
    make_engine: EngineFactory,
) -> dict[str, LoopEngine]:
    out = {}
    for name, loop in loops.items():
        feed = loop.policies.feed
        assert isinstance(feed, ArmServer)
        if any(arm.engine for arm in feed.arms):
            feed.engine = out[name] = make_engine(loop, strategies, settings, plan.needs_bundle)
    return out


def _analyse(
    config: SimConfig,
    settings: Rehearsal,
    plan: _Plan,
    world: World,
    logs: dict[str, LogResult],
    arm_of_user: np.ndarray,
) -> Outcome:
    names, people = plan.names, world.users.n_people
    start_us = config.start_us + settings.start_day * US_PER_DAY
    window = Window(start_us, config.split_us)
    arms: dict[str, ArmData] = {}
    whole: dict[str, ArmData] = {}  # every person, as measured in the arm's loop
    frames = []
    for i, name in enumerate(names):
        run = logs.get(name, logs.get(SPLIT))
        assert run is not None
        rows = np.flatnonzero(arm_of_user[:people] == i)
        full = ArmData(per_user(run, people, window, world.users.ids), daily(run, people, window))
        whole[name] = full
        arms[name] = subset(full, rows)
        if name in logs or i == 0:
            frames.append(_labelled(world, run, arm_of_user, names, window.start_us))
    events = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(frames) > 1:  # each user's events from their arm's copy
        mine = np.asarray(names, dtype=object)[arm_of_user]
        owner = pd.Series(mine, index=world.users.ids)
        world_of_row = np.repeat(names, [len(f) for f in frames])
        events = events[(events["user_id"].map(owner) == world_of_row).to_numpy()]
        events = events.reset_index(drop=True)
    start = config.start_ts + pd.Timedelta(days=settings.start_day)
    design = Design(plan.experiment.name, dict.fromkeys(names, 0.5), names[0], "feed", start)
    analysis = analyse(events, design)
    measured, means, notes = effects(arms, names[0])
    analysis.metrics.update(measured)
    analysis.control_means.update(means)
    analysis.notes.extend(notes)
    if settings.design == "split":
        analysis.notes.append(
            "design split: arms share circles, so each creator's posts reach readers of "
            "both arms and creator-side effects show diluted (design worlds has none)"
        )
    report = analysis.to_json()
    report["design"] = settings.design
    report["strategies"] = {n: s.name for n, s in zip(names, plan.served, strict=True)}
    report["sequential_metrics"] = {
        "creator_share": creator_share_sequential(arms, names[0], window.days)
    }
    report["daily"] = {n: series(d, window.days) for n, d in arms.items()}
    if settings.design == "worlds":
        report["launch"] = _launch(whole, names[0])
        report["launch_users"] = people
    return Outcome(events, analysis, report, logs, world, 0.0)


def _launch(whole: dict[str, ArmData], control: str) -> dict[str, dict[str, Any]]:
    """launch_effects in ab.json's shape: the control's row, then each arm's."""
    out = {}
    for metric, by_arm in launch_effects(whole, control).items():
        rows = {arm: _launch_row(e) for arm, e in by_arm.items()}
        out[metric] = {control: _launch_row(next(iter(by_arm.values())), control=True)} | rows
    return out


def _launch_row(e: Effect, control: bool = False) -> dict[str, float | None]:
    if control:
        return {"mean": e.control, "diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": None}
    return {
        "mean": e.treatment,
        "diff": e.diff,
        "ci_low": e.ci_low,
        "ci_high": e.ci_high,
        "p_value": e.p_value,
    }


def _labelled(
    world: World, logs: LogResult, arm_of_user: np.ndarray, names: list[str], start_us: int
) -> pd.DataFrame:
    """The contract events of `logs`, each labelled with its user's arm from the start
    on and with PRE_ARM before."""
    events = events_table(world, logs)
    arm = np.asarray(names, dtype=object)[arm_of_user]
    user = pd.Index(world.users.ids).get_indexer(events["user_id"].to_numpy(dtype=object))
    start = pd.Timestamp(start_us * 1000, tz="UTC")
    after = (events["ts"] >= start).to_numpy(dtype=bool)
    return events.assign(arm=np.where(after, arm[user], PRE_ARM))
