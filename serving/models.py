"""The bundle a server ranks with, swapped atomically on reload.

A request reads `holder.current` once and ranks with that `Served` to the end, so a
swap never mixes two bundles in one response. A candidate bundle must load, match the
snapshot's feature schema and rank a probe request on every surface it was trained
for before it replaces the current one; otherwise it is refused, the current one keeps
serving and the reason is kept for /readyz.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from circlerank.errors import ModelError
from circlerank.memory import freeze_heap
from ranking.components import RankContext
from ranking.cursor import CursorSigner
from ranking.pages import Pager
from ranking.strategy import Strategies
from training.bundle import Bundle, load_bundle, resolve

from .world import ServingWorld, describe_failure

log = logging.getLogger(__name__)
PROBE_USER = "\x00circlerank-probe"  # no real user: ranks the cold-start path


@dataclass(frozen=True)
class Served:
    bundle: Bundle
    pager: Pager
    loaded_at: float

    @property
    def version(self) -> str:
        return self.bundle.version


@dataclass(frozen=True)
class Refusal:
    target: str  # the bundle directory refused
    reason: str
    at: float


class ModelHolder:
    def __init__(
        self,
        models: Path,
        world: ServingWorld,
        strategies: Strategies,
        signer: CursorSigner,
        compile_trees: bool = True,
        on_swap: Callable[[str | None, str], None] | None = None,
    ) -> None:
        self.models = models
        self.world = world
        self.strategies = strategies
        self.signer = signer
        self.compile_trees = compile_trees
        self.on_swap = on_swap or (lambda old, new: None)
        self.refused: Refusal | None = None
        self._swap = threading.Lock()
        self.current: Served | None = None  # none until a bundle loads (see /readyz)

    def _prepare(self, directory: Path) -> Served:
        bundle = load_bundle(directory, self.world.schema, compile_trees=self.compile_trees)
        world = self.world

        def contexts(surface: str, as_of: pd.Timestamp) -> RankContext:
            return RankContext(surface, world.catalog(as_of), world.features.rows, bundle)

        served = Served(bundle, Pager(contexts, self.strategies, self.signer), time.time())
        for surface in bundle.rankers:  # ranks with every model before it may serve
            if surface in self.strategies.defaults:
                served.pager.page(PROBE_USER, surface, limit=5, now=world.as_of)
            for strategy in self.strategies.strategies.values():
                if strategy.surface == surface:
                    pipeline = served.pager.pipeline(strategy.name, surface)
                    pipeline.prepare(contexts(surface, world.as_of))
        return served

    @property
    def version(self) -> str | None:
        return self.current.version if self.current is not None else None

    def _is_current(self, target: Path) -> bool:
        return self.current is not None and target == self.current.bundle.directory

    def reload(self) -> Served:
        """Swap in the bundle MODELS points at now, if it differs from the current one;
        ModelError (and a recorded refusal) if it cannot serve."""
        with self._swap:
            try:
                target = resolve(self.models)
            except ModelError as exc:
                self._refuse(str(self.models), describe_failure(exc))
                raise
            if self.current is not None and self._is_current(target):
                return self.current
            try:
                served = self._prepare(target)
            except Exception as exc:  # any failure of a candidate bundle is a refusal
                reason = describe_failure(exc)
                self._refuse(str(target), reason)
                raise ModelError(f"refused bundle {target}: {reason}") from exc
            old = self.version
            self.current, self.refused = served, None
            freeze_heap()  # the new bundle and the world it serves live long
            log.info("model bundle %s -> %s", old or "none", served.version)
            self.on_swap(old, served.version)
            return served

    def _refuse(self, target: str, reason: str) -> None:
        if self.refused is None or self.refused.target != target:
            log.error(
                "refused model bundle %s (still serving %s): %s",
                target,
                self.version or "nothing",
                reason,
            )
        self.refused = Refusal(target, reason, time.time())

    def pending_target(self) -> Path | None:
        """The bundle MODELS points at when it is neither current nor already refused."""
        try:
            target = resolve(self.models)
        except ModelError as exc:
            self._refuse(str(self.models), describe_failure(exc))
            return None
        if self._is_current(target):
            return None
        if self.refused is not None and self.refused.target == str(target):
            return None
        return target


class Watcher:
    """Polls MODELS/current and reloads when it points somewhere new."""

    def __init__(self, holder: ModelHolder, interval_s: float) -> None:
        self.holder = holder
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bundle-watcher", daemon=True)

    def start(self) -> Watcher:
        if self.interval_s > 0:
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.holder.pending_target() is None:
                continue
            with contextlib.suppress(ModelError):  # recorded in holder.refused, logged
                self.holder.reload()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def seed_of(request_id: str) -> np.random.Generator:
    """The random stream of one request (reproducible from its logged request_id)."""
    return np.random.default_rng(int(request_id[:16], 16))
