"""The synthetic-world simulator: a payment app's users, merchants, circles and posts, the
logs of a randomised logging policy, and the ground truth to measure rankings against.

    from evaluation.simulator import SimConfig, simulate
    result = simulate(SimConfig(users=10_000, days=60, seed=0), out_dir=Path("world"))
    simulate(SimConfig(users=10_000, days=60, seed=0, scenario="social"), Path("social"))

The names below are imported on first use, so that reading the scenario registry
(`evaluation.simulator.scenarios`, e.g. for `circlerank simulate --help`) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import SimConfig, SimParams
    from .loop import Policies, run_logs
    from .policy import EpsilonGreedySlates, SlatePolicy, Slates
    from .run import SimResult, simulate, truth_dir_for
    from .scenarios import SCENARIOS, Scenario, scenario_names
    from .world import World, build_world

_WHERE = {
    "EpsilonGreedySlates": "policy",
    "Policies": "loop",
    "SCENARIOS": "scenarios",
    "Scenario": "scenarios",
    "SimConfig": "config",
    "SimParams": "config",
    "SimResult": "run",
    "SlatePolicy": "policy",
    "Slates": "policy",
    "World": "world",
    "build_world": "world",
    "run_logs": "loop",
    "scenario_names": "scenarios",
    "simulate": "run",
    "truth_dir_for": "run",
}

__all__ = [
    "SCENARIOS",
    "EpsilonGreedySlates",
    "Policies",
    "Scenario",
    "SimConfig",
    "SimParams",
    "SimResult",
    "SlatePolicy",
    "Slates",
    "World",
    "build_world",
    "run_logs",
    "scenario_names",
    "simulate",
    "truth_dir_for",
]
assert sorted(__all__) == sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value
