"""What may serve an arm: a simulator policy (over the simulator's own candidates and
heuristic) or an engine feed strategy (ranking/strategies.toml). The names never overlap,
so a name alone says which."""

from __future__ import annotations

from dataclasses import dataclass

from circlerank.errors import ConfigError
from ranking.strategy import Strategies

from ..closed_loop import STRATEGIES as SIMULATOR_POLICIES


@dataclass(frozen=True)
class ArmSpec:
    name: str
    engine: bool  # an engine strategy, else a simulator policy


def engine_feed_strategies(strategies: Strategies) -> list[str]:
    return sorted(n for n, s in strategies.strategies.items() if s.surface == "feed")


def arm_spec(name: str, strategies: Strategies) -> ArmSpec:
    """The arm served by `name`; an unknown name is an error listing both kinds."""
    engine = engine_feed_strategies(strategies)
    clash = sorted(set(engine) & set(SIMULATOR_POLICIES))
    if clash:
        raise ConfigError(
            f"strategies named like simulator policies cannot be rehearsed: {', '.join(clash)}"
        )
    if name in SIMULATOR_POLICIES:
        return ArmSpec(name, engine=False)
    if name in engine:
        return ArmSpec(name, engine=True)
    raise ConfigError(
        f"unknown rehearsal strategy {name!r}; simulator policies: "
        f"{', '.join(SIMULATOR_POLICIES)}; engine feed strategies: {', '.join(engine)}"
    )
