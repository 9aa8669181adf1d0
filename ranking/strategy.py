"""Strategies: pipelines declared as data in TOML, validated at load.

    [defaults]
    feed = "community"
    circle_suggestions = "suggest"

    [fallbacks]       # served while the online store is down (scorers without features)
    feed = "popularity"

    [strategies.engagement]
    surface = "feed"
    sources = ["circle_posts"]
    filters = ["live_post"]
    scorer = "value"
    rerankers = []
    [strategies.engagement.params.trending_posts]
    k = 50

Every name must be a registered component for the strategy's surface; an unknown one is
an error listing the valid ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from circlerank.errors import ConfigError

from .catalog import FRESHNESS_DAYS
from .components import SURFACES, Component
from .filters import FILTERS
from .rerankers import RERANKERS
from .scorers import SCORERS
from .sources import SOURCES

SHIPPED = Path(__file__).with_name("strategies.toml")
REGISTRY: dict[str, dict[str, type[Component]]] = {
    "sources": {c.name: c for c in SOURCES},
    "filters": {c.name: c for c in FILTERS},
    "scorer": {c.name: c for c in SCORERS},
    "rerankers": {c.name: c for c in RERANKERS},
}


class Strategy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = ""
    surface: str
    sources: tuple[str, ...] = Field(min_length=1)
    # asked only for users the sources and filters leave with nothing (cold start)
    fallback: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    scorer: str
    rerankers: tuple[str, ...] = ()
    params: dict[str, dict[str, Any]] = {}

    @model_validator(mode="after")
    def _known(self) -> Strategy:
        if self.surface not in SURFACES:
            raise ValueError(f"unknown surface {self.surface!r}; valid: {', '.join(SURFACES)}")
        for kind in ("sources", "fallback", "filters", "rerankers", "scorer"):
            value = getattr(self, kind)
            for name in (value,) if isinstance(value, str) else value:
                cls = component_class(kind, name, self.surface)
                try:
                    cls.Params.model_validate(self.params.get(name, {}))
                except ValidationError as exc:
                    raise ValueError(f"params of {name}: {exc}") from None
        used = {*self.sources, *self.fallback, *self.filters, self.scorer, *self.rerankers}
        stray = sorted(set(self.params) - used)
        if stray:
            raise ValueError(f"params for components not in the pipeline: {', '.join(stray)}")
        return self

    def build(self, kind: str) -> list[Any]:
        """Instances of the components of one kind, in declared order, with params."""
        names = (getattr(self, kind),) if kind == "scorer" else getattr(self, kind)
        out = []
        for name in names:
            cls = component_class(kind, name, self.surface)
            out.append(cls(cls.Params.model_validate(self.params.get(name, {}))))
        return out


def component_class(kind: str, name: str, surface: str) -> type[Component]:
    kind = "sources" if kind == "fallback" else kind
    valid = {n: c for n, c in REGISTRY[kind].items() if surface in c.surfaces}
    if name not in valid:
        raise ValueError(
            f"unknown {kind.rstrip('s')} {name!r} for {surface}; valid: "
            f"{', '.join(sorted(valid)) or 'none'}"
        )
    return valid[name]


class SurfaceDefaults(BaseModel):
    """What every strategy of a surface has unless it says otherwise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: tuple[str, ...] = ()
    fallback: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()


PARTS = ("sources", "fallback", "filters", "rerankers")


def expand(strategies: dict[str, Any], surfaces: dict[str, Any]) -> dict[str, Any]:
    """Each strategy's table with what it leaves out taken from the strategy it is
    `like` (recursively), then from its surface's defaults. `params` merge per
    component, the strategy's own winning."""
    done: dict[str, Any] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> Any:
        body = strategies[name]
        if name in done or not isinstance(body, dict):
            return done.get(name, body)
        if name in chain:
            raise ValueError(f"strategies {' -> '.join([*chain, name])}: `like` loops")
        body = dict(body)
        parent_name = body.pop("like", None)
        if parent_name is not None:
            if parent_name not in strategies or not isinstance(strategies[parent_name], dict):
                raise ValueError(f"strategy {name!r} is like {parent_name!r}: no such strategy")
            parent = resolve(parent_name, (*chain, name))
            own = body.get("params", {})
            body = {**{k: v for k, v in parent.items() if k not in ("name", "params")}, **body}
            # the parent's params of components this strategy still uses, then its own
            used = {body.get("scorer"), *(n for kind in PARTS for n in body.get(kind, ()))}
            inherited = {k: v for k, v in parent.get("params", {}).items() if k in used}
            if inherited or own:
                body["params"] = {**inherited, **own}
        defaults = surfaces.get(str(body.get("surface")), {})
        for key, value in dict(defaults).items():
            body.setdefault(key, value)
        done[name] = body
        return body

    return {name: resolve(name, ()) for name in strategies}


class Strategies(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # per surface, what its strategies share (filters, fallback, sources)
    surfaces: dict[str, SurfaceDefaults] = {}
    defaults: dict[str, str]
    # what a surface serves while the online store is unreachable: a strategy whose
    # scorer reads no features
    fallbacks: dict[str, str] = {}
    strategies: dict[str, Strategy]
    # the feed surface: posts younger than this in the user's circles
    freshness_days: float = Field(default=FRESHNESS_DAYS, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _expand(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or not isinstance(raw.get("strategies"), dict):
            return raw
        surfaces = raw.get("surfaces", {})
        for surface in surfaces:
            if surface not in SURFACES:
                raise ValueError(f"surfaces: unknown surface {surface!r}")
        return {**raw, "strategies": expand(raw["strategies"], surfaces)}

    @model_validator(mode="after")
    def _defaults(self) -> Strategies:
        for surface, name in self.defaults.items():
            if surface not in SURFACES:
                raise ValueError(f"defaults: unknown surface {surface!r}")
            if name not in self.strategies or self.strategies[name].surface != surface:
                raise ValueError(f"defaults: {name!r} is not a {surface} strategy")
        for surface, name in self.fallbacks.items():
            strategy = self.strategies.get(name)
            if strategy is None or strategy.surface != surface:
                raise ValueError(f"fallbacks: {name!r} is not a {surface} strategy")
            if strategy.build("scorer")[0].needs_features:
                raise ValueError(f"fallbacks: {name!r} scores with features; pick one without")
        return self

    def get(self, name: str | None, surface: str) -> Strategy:
        """A strategy by name (None = the surface's default), checked for the surface."""
        name = name or self.defaults.get(surface)
        valid = sorted(n for n, s in self.strategies.items() if s.surface == surface)
        if name not in self.strategies or self.strategies[name].surface != surface:
            raise ConfigError(
                f"unknown {surface} strategy {name!r}; valid: {', '.join(valid) or 'none'}"
            )
        return self.strategies[name]


def load_strategies(path: str | Path | None = None) -> Strategies:
    """Read and validate a strategies TOML file (None = the shipped one)."""
    import tomllib

    path = Path(path) if path is not None else SHIPPED
    try:
        raw = tomllib.loads(path.read_text())
        for name, body in raw.get("strategies", {}).items():
            body.setdefault("name", name)
        return Strategies.model_validate(raw)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read strategies: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid strategies: {exc}") from exc
