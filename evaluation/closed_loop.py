"""Rehearse an experiment: two strategies as arms against the simulator's users.

The simulator runs its days as usual, but from `start_day` on each request is served
by the strategy of its user's arm (assigned by the same salted hash as the server's
experiments). Users see pages, act by the truth, and what they do feeds the next day's
pages. Before `start_day` everyone gets the control; that period is the CUPED
pre-period. The logged events are labelled with each user's arm and analysed as a live
experiment would be (evaluation/ab.py).

The strategies here are simulator policies over the simulator's own heuristic score:
`logging` (the simulator's default epsilon-greedy), `greedy` (epsilon 0.02), `shuffle`
(every page a random ordering) and `short` (greedy, three items a page); their names
differ from the engine's strategies, which `evaluation/rehearsal` serves in the loop. A feed page
usually holds every fresh post of the user's circles, so the first three differ only in
order; `short` shows less, and changes both clicks per user and clicks per impression.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from circlerank.errors import ConfigError
from features.pit import TS
from serving.experiments import Arm, Experiment

from .ab import Analysis, Design, analyse
from .simulator import SimConfig, simulate
from .simulator.loop import Policies
from .simulator.policy import EpsilonGreedySlates, SlatePolicy, Slates
from .simulator.population import make_ids

STRATEGIES = ("logging", "greedy", "shuffle", "short")
SHORT_PAGE = 3
PRE_ARM = "pre"  # the label of events before the experiment starts


@dataclass(frozen=True)
class ShortPages:
    """Another policy's pages, cut to `k` items."""

    policy: SlatePolicy
    k: int
    name: str = "short"

    def select(
        self,
        rng: np.random.Generator,
        group: np.ndarray,
        scores: np.ndarray,
        slate_size: int,
        users: np.ndarray | None = None,
        day: int | None = None,
    ) -> Slates:
        return self.policy.select(rng, group, scores, min(slate_size, self.k), users, day)


def strategy(name: str, config: SimConfig) -> SlatePolicy:
    epsilon = {"logging": config.explore_epsilon, "greedy": 0.02, "shuffle": 1.0, "short": 0.02}
    if name not in epsilon:
        raise ConfigError(f"unknown simulator strategy {name!r}; valid: {', '.join(STRATEGIES)}")
    policy = EpsilonGreedySlates(epsilon[name], name=name)
    return ShortPages(policy, SHORT_PAGE) if name == "short" else policy


@dataclass
class SplitSlates:
    """Serves each request with the policy of its user's arm from `start_day` on."""

    experiment: Experiment
    policies: dict[str, SlatePolicy]
    user_ids: np.ndarray  # simulator user index -> user id
    start_day: int
    name: str = "split"
    _arm_of_user: np.ndarray | None = field(default=None, repr=False)

    def arm_of_users(self) -> np.ndarray:
        if self._arm_of_user is None:
            names = [a.name for a in self.experiment.arms]
            self._arm_of_user = np.array(
                [names.index(self.experiment.arm_for(u).name) for u in self.user_ids]
            )
        return self._arm_of_user

    def select(
        self,
        rng: np.random.Generator,
        group: np.ndarray,
        scores: np.ndarray,
        slate_size: int,
        users: np.ndarray | None = None,
        day: int | None = None,
    ) -> Slates:
        if users is None or day is None:
            raise ValueError("SplitSlates needs each row's user and the day")
        names = [a.name for a in self.experiment.arms]
        control = names.index(self.experiment.control_arm)
        arm = self.arm_of_users()[users] if day >= self.start_day else np.full(len(users), control)
        rows, slots, props = [], [], []
        for i, name in enumerate(names):
            mine = np.flatnonzero(arm == i)
            if not len(mine):
                continue
            got = self.policies[name].select(rng, group[mine], scores[mine], slate_size)
            rows.append(mine[got.row])
            slots.append(got.slot)
            props.append(got.propensity)
        row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        slot = np.concatenate(slots) if slots else np.zeros(0, dtype=np.int64)
        prop = np.concatenate(props) if props else np.zeros(0)
        order = np.lexsort((slot, group[row]))
        explored = np.zeros(len(np.unique(group)), dtype=bool)  # not tracked across arms
        return Slates(row=row[order], slot=slot[order], propensity=prop[order], explored=explored)


def rehearse(
    config: SimConfig,
    out_dir: Path,
    control: str = "logging",
    treatment: str = "greedy",
    start_day: int = 7,
    salt: str = "rehearsal",
) -> tuple[pd.DataFrame, Analysis]:
    """Simulate the experiment into `out_dir`; the labelled events and their analysis."""
    if not 0 < start_day < config.days:
        raise ConfigError(f"start_day must be within the {config.days} days, got {start_day}")
    experiment = Experiment(
        name=f"{control}_vs_{treatment}",
        surface="feed",
        salt=salt,
        arms=(Arm(name=control, share=0.5), Arm(name=treatment + "_arm", share=0.5))
        if control == treatment
        else (Arm(name=control, share=0.5), Arm(name=treatment, share=0.5)),
        control=control,
    )
    policies = {a.name: strategy(a.name.removesuffix("_arm"), config) for a in experiment.arms}
    user_ids = make_ids("u", config.users)
    split = SplitSlates(experiment, policies, user_ids, start_day)
    result = simulate(
        config, out_dir, Policies(feed=split, suggestions=strategy("logging", config))
    )
    events = pd.read_parquet(result.out_dir / "events.parquet")
    start = config.start_ts + pd.Timedelta(days=start_day)
    names = [a.name for a in experiment.arms]
    arm = np.asarray(names, dtype=object)[split.arm_of_users()]
    index = pd.Index(user_ids)
    known = index.get_indexer(events["user_id"])
    after = (events["ts"].astype(TS) >= start).to_numpy()
    labels = np.where(known >= 0, arm[np.maximum(known, 0)], None)
    events["arm"] = np.where(after, labels, PRE_ARM)
    design = Design(
        experiment.name, {a.name: a.share for a in experiment.arms}, control, "feed", start
    )
    return events, analyse(events, design)
