"""The synthetic-world simulator: a payment app's users, merchants, circles and posts, the
logs of a randomised logging policy, and the ground truth to measure rankings against.

    from evaluation.simulator import SimConfig, simulate
    result = simulate(SimConfig(users=10_000, days=60, seed=0), out_dir=Path("world"))
"""

from .config import SimConfig, SimParams
from .loop import Policies, run_logs
from .policy import EpsilonGreedySlates, SlatePolicy, Slates
from .run import SimResult, simulate, truth_dir_for
from .world import World, build_world

__all__ = [
    "EpsilonGreedySlates",
    "Policies",
    "SimConfig",
    "SimParams",
    "SimResult",
    "SlatePolicy",
    "Slates",
    "World",
    "build_world",
    "run_logs",
    "simulate",
    "truth_dir_for",
]
