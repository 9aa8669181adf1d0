"""Everything a server process builds at start and closes at stop."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from circlerank.errors import ModelError
from features.config import FeatureConfig
from features.schema import FeatureSchema
from ranking.combine import LoopCombiner
from ranking.cursor import CursorSigner
from ranking.strategy import Strategies, load_strategies
from training.bundle import read_manifest, resolve

from .eventlog import EventLog, open_event_log
from .eventlog.buffer import BackgroundWriter
from .eventlog.spill import spill_for
from .experiments import Experiments, load_experiments
from .metrics import Metrics
from .models import ModelHolder, Watcher, last_good_directory
from .settings import Settings
from .world import ServingWorld, describe_failure

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    strategies: Strategies
    experiments: Experiments
    metrics: Metrics
    world: ServingWorld
    holder: ModelHolder
    event_log: EventLog
    writer: BackgroundWriter
    watcher: Watcher
    # ranked requests that arrive while a run holds the event loop share the next run
    combiner: LoopCombiner = field(default_factory=LoopCombiner)

    def missing(self) -> list[str]:
        """What keeps the server from serving, in words (empty when ready)."""
        out = []
        if self.holder.current is None:
            why = self.holder.refused.reason if self.holder.refused else "not loaded yet"
            out.append(f"model bundle: {why}")
        if not self.writer.alive:
            out.append("event log: the impression writer has stopped")
        return out

    def close(self) -> None:
        self.watcher.stop()
        self.writer.close()
        self.event_log.close()
        self.world.close()


def feature_config(settings: Settings) -> FeatureConfig | None:
    """The feature config of the bundle MODELS points at (the snapshot must match it),
    else of the last good bundle (which a process serves while `current` is refused);
    none when no bundle is readable yet (the snapshot then takes the default features)."""
    try:
        return _feature_config_of(resolve(settings.models))
    except (ModelError, KeyError, ValueError) as exc:
        log.error("cannot read the bundle in %s yet: %s", settings.models, exc)
    last_good = last_good_directory(settings.models)
    if last_good is None:
        return None
    try:
        return _feature_config_of(last_good)
    except (ModelError, KeyError, ValueError) as exc:
        log.error("cannot read the last good bundle %s either: %s", last_good, exc)
        return None


def _feature_config_of(bundle: Path) -> FeatureConfig:
    return FeatureSchema.from_dict(read_manifest(bundle)["feature_schema"]).config


def check_settings(settings: Settings) -> None:
    """Fail fast, before any worker starts: the strategies, the experiments and the
    event log must load (ConfigError or EventLogError naming the problem)."""
    load_experiments(settings.experiments, load_strategies(settings.strategies))
    open_event_log(settings.event_log).close()


def single_threaded_faiss() -> None:
    try:
        import faiss
    except ImportError:
        return
    faiss.omp_set_num_threads(1)


def build_runtime(settings: Settings) -> Runtime:
    # a request searches faiss for one user: OpenMP's second thread only adds handoffs
    # (an ALS circle search on a 100k-circle catalog took 16 ms on two, 1.7 ms on one)
    single_threaded_faiss()
    strategies = load_strategies(settings.strategies)
    experiments = load_experiments(settings.experiments, strategies)
    metrics = Metrics()
    world = ServingWorld(
        settings.data,
        settings.as_of,
        settings.snapshot,
        feature_config(settings),
        freshness=pd.Timedelta(days=strategies.freshness_days),
        online_store=settings.online_store,
        store_retry_s=settings.store_retry_s,
    )
    signer = CursorSigner(settings.cursor_secret, ttl_s=settings.cursor_ttl_s)
    holder = ModelHolder(
        settings.models, world, strategies, signer, settings.compile_trees, metrics.set_model
    )
    try:
        holder.reload()
    except ModelError as exc:
        if holder.current is None:  # else the last good bundle serves (logged)
            log.error("not ready: %s", describe_failure(exc))
    event_log = open_event_log(settings.event_log, on_dead_lettered=metrics.dead_lettered)
    writer = BackgroundWriter(
        event_log,
        on_written=metrics.events.labels(origin="served").inc,
        on_dropped=metrics.events_dropped.inc,
        on_backlog=metrics.impressions_pending.set,
        spill=spill_for(event_log, settings.spill_dir),
    )
    watcher = Watcher(holder, settings.reload_poll_s)
    return Runtime(
        settings,
        strategies,
        experiments,
        metrics,
        world,
        holder,
        event_log,
        writer,
        watcher.start(),
    )
