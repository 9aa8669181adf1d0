"""`circlerank train`: features -> rankers and candidate models per surface -> bundle."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from circlerank.errors import ModelError
from circlerank.memory import peak_rss_mb
from circlerank.progress import step
from features.compute import FeatureBuilder
from features.contract import ContractData
from features.engine import Engine
from features.materialize import schema_of
from features.pit import AS_OF, TS

from .als import ALSModel, interactions_from_events
from .bundle import FORMAT, Bundle, library_versions
from .candidates import CandidateGenerator
from .capacity import search_capacity
from .config import BoosterParams, TrainConfig
from .dataset import TrainingSet, build_training_set, seen_until, training_until
from .heads import HeadsRanker
from .hidden import membership_interactions
from .item_models import fit_item_models
from .item_to_item import ItemToItem
from .lambdarank import LambdaRanker
from .logistic import LogisticRanker
from .manifest import BundleManifest, SurfaceRows
from .membership_set import membership_training_sets
from .ranker import Ranker
from .recall import recall_at_k
from .refit import refit_rankers
from .selection import Metric, select

log = logging.getLogger(__name__)
RECALL_K = {"feed": 100, "circle_suggestions": 20}
RECALL_USERS = 2_000
# positives are the items engaged with in the day after the cut: later ones were mostly
# posted after it, so no source could have returned them
RECALL_HORIZON = pd.Timedelta(days=1)


def surfaces_of(data: ContractData, until: pd.Timestamp) -> list[str]:
    """The surfaces the data can train: logged impressions on them before `until`, posts
    for the feed."""
    if not data.has("events"):
        return []
    events = data["events"]
    logged = (events["action"] == "impression") & (events["ts"].astype(TS) < until)
    shown = events.loc[logged.to_numpy(), "surface"].unique()
    return [
        s
        for s in ("feed", "circle_suggestions")
        if s in shown and (s != "feed" or data.has("posts"))
    ]


def from_memberships(data: ContractData, surfaces: list[str]) -> bool:
    """Whether circle suggestions learn from memberships alone: no logged suggestions."""
    return "circle_suggestions" not in surfaces and len(data["memberships"]) > 0


def version_id(data: ContractData, config: TrainConfig, until: pd.Timestamp) -> str:
    """Derived from the data (rows and latest time per table), the cut-off and params."""
    facts: dict[str, Any] = {"until": until.isoformat(), "params": config.model_dump(mode="json")}
    for name in sorted(data.tables):
        table = data[name]
        times = [c for c in table.columns if str(table[c].dtype).startswith("datetime")]
        facts[name] = [len(table), *(str(table[c].max()) for c in times)]
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:12]
    return f"{until:%Y%m%dT%H%M%S}-{digest}"


def als_interactions(
    data: ContractData, surface: str, config: TrainConfig, until: pd.Timestamp
) -> pd.DataFrame:
    events = None
    if data.has("events"):
        events = data["events"][data["events"]["surface"] == surface]
    if surface == "circle_suggestions":
        m = data["memberships"]
        joined = pd.DataFrame(
            {
                "user_id": m["user_id"],
                "item_id": m["circle_id"],
                "action": "join",
                "ts": m["joined_at"],
            }
        )
        events = joined if events is None else pd.concat([events[joined.columns], joined])
    if events is None:  # the feed with no events: nothing to factorize
        return pd.DataFrame(columns=["user_id", "item_id", "weight"])
    return interactions_from_events(events.reset_index(drop=True), config.als.action_weights, until)


def fit_candidate_models(
    data: ContractData,
    surface: str,
    config: TrainConfig,
    until: pd.Timestamp,
    learned_from_memberships: bool = False,
) -> tuple[ALSModel | None, dict[str, ItemToItem[Any]]]:
    """ALS on the surface's interactions before `until`; (None, {}) when there are none.
    Circle suggestions `learned_from_memberships` get the item-to-item models (item-kNN,
    EASE) too, all fitted on memberships as every hiding refits them
    (training/membership_set.py)."""
    if learned_from_memberships:
        candidates = config.membership_candidates
        interactions = membership_interactions(data, until)
        params = candidates.als.params(config.seed)
    else:
        interactions = als_interactions(data, surface, config, until)
        params = config.als.params(config.seed)
    if interactions.empty:
        log.warning("no %s interactions before %s: no ALS candidates", surface, until)
        return None, {}
    with step(f"ALS {surface}: {len(interactions):,} user-item pairs"):
        als = ALSModel(params).fit(interactions)
    if not learned_from_memberships:
        return als, {}
    return als, fit_item_models(interactions, candidates.ease_params(), surface)


def fit_rankers(
    train: TrainingSet,
    valid: TrainingSet,
    config: TrainConfig,
    booster: BoosterParams,
    client: Any | None = None,
) -> dict[str, Ranker]:
    """Every configured ranker, the LightGBM ones (heads, LambdaRank) with `booster`'s
    settings, on the Dask cluster of `client` when one is given; the logistic
    regression on the driver."""
    rankers: dict[str, Ranker] = {}
    for name in config.rankers:
        ranker: Ranker
        if name == "heads":
            ranker = HeadsRanker(
                booster,
                config.value_weights(train.surface),
                ipw=config.position_bias == "ipw",
                negative_rate=config.negative_rate_for(len(train.frame)),
                seed=config.seed,
                client=client,
            )
        elif name == "lambdarank":
            ranker = LambdaRanker(booster, config.seed, client)
        else:
            ranker = LogisticRanker(seed=config.seed)
        rankers[name] = ranker.fit(train, valid)
    return rankers


def source_recall(
    builder: FeatureBuilder,
    surface: str,
    config: TrainConfig,
    cut: pd.Timestamp,
    until: pd.Timestamp,
    generator: CandidateGenerator,
) -> dict[str, float]:
    """Recall@K of every candidate source at `cut` against the items users engaged with in
    the RECALL_HORIZON after it: ALS is refitted on data before `cut` so nothing leaks."""
    data = builder.data
    events = data["events"]
    ts = events["ts"].astype(TS)
    good = events["action"].isin(("click", "like", "comment", "share", "join"))
    later = events[
        good
        & (events["surface"] == surface)
        & (ts >= cut)
        & (ts < min(until, cut + RECALL_HORIZON))
    ]
    positives = later[["user_id", "item_id"]].drop_duplicates()
    if positives.empty:
        log.warning("no %s engagements in the day after %s: recall not measured", surface, cut)
        return {}
    users = np.sort(positives["user_id"].unique())
    if len(users) > RECALL_USERS:
        users = np.random.default_rng(config.seed).choice(users, RECALL_USERS, replace=False)
    positives = positives[positives["user_id"].isin(users)]
    als, items = fit_candidate_models(data, surface, config, cut)  # refitted before `cut`
    bundle = Bundle(manifest={"version": "recall"}, als={surface: als} if als else {})
    bundle.add_item_models(surface, items)
    found = generator.source_candidates(data, builder, cut, bundle, surface, users)
    return {
        name: recall_at_k(
            pairs.assign(rank=pairs.groupby("user_id").cumcount()), positives, RECALL_K[surface]
        )
        for name, pairs in found.items()
    }


@dataclass
class TrainedSurface:
    """What one surface contributes to the bundle and its manifest."""

    surface: str
    rankers: dict[str, Ranker]
    rows: SurfaceRows
    selection: dict[str, Any]
    trained_from: str
    als: ALSModel | None
    item_models: dict[str, ItemToItem[Any]]
    recall: dict[str, float] | None  # None: not measured (no logged engagements)

    def add_to(self, bundle: Bundle, manifest: BundleManifest) -> None:
        surface = self.surface
        bundle.rankers[surface] = self.rankers
        manifest.rankers[surface] = list(self.rankers)
        manifest.metrics[surface] = {n: r.metrics for n, r in self.rankers.items()}
        manifest.selection[surface] = self.selection
        manifest.rows[surface] = self.rows
        manifest.trained_from[surface] = self.trained_from
        if self.als is not None:
            bundle.als[surface] = self.als
            manifest.als.append(surface)
        bundle.add_item_models(surface, self.item_models)
        for name in self.item_models:
            getattr(manifest, name).append(surface)
        if self.recall is not None:
            manifest.recall[surface] = self.recall


def train(
    data: ContractData,
    candidates: CandidateGenerator,
    config: TrainConfig | None = None,
    until: pd.Timestamp | None = None,
    engine: Engine | None = None,
) -> Bundle:
    """Train every model the data supports on rows before `until` (default: all).
    `candidates` gathers candidates as serving does (`ranking.for_training`), for
    training from memberships and for measuring each source's recall."""
    config = config or TrainConfig()
    started = time.perf_counter()
    until = training_until(data, until, pd.Timedelta(days=config.validation_days))
    surfaces = surfaces_of(data, until)
    membership_only = from_memberships(data, surfaces)
    if membership_only:
        log.info("no logged circle suggestions: they learn from memberships alone")
        surfaces = [*surfaces, "circle_suggestions"]
    builder = FeatureBuilder(data, config.features, engine)
    manifest = BundleManifest(
        format=FORMAT,
        version=version_id(data, config, until),
        created_at=pd.Timestamp.now(tz="UTC").isoformat(),
        until=until.isoformat(),
        seen_until=seen_until(data, until).isoformat(),
        feature_schema=schema_of(builder).to_dict(),
        params=config.model_dump(mode="json"),
        libraries=library_versions(),
        absent_tables=list(data.report.absent),
    )
    bundle = Bundle(manifest={})
    for surface in surfaces:
        from_hidden = membership_only and surface == "circle_suggestions"
        try:
            trained = train_surface(builder, surface, config, until, candidates, from_hidden)
        except ModelError as exc:
            log.warning("not training %s: %s", surface, exc)
            manifest.skipped[surface] = str(exc)
            continue
        trained.add_to(bundle, manifest)
    if not bundle.rankers:
        if not surfaces:
            raise ModelError("got no logged impressions and no memberships: nothing to train on")
        raise ModelError(f"no surface could be trained: {manifest.skipped}")
    manifest.seconds = round(time.perf_counter() - started, 1)
    manifest.peak_rss_mb = round(peak_rss_mb())
    bundle.manifest = manifest.as_json()
    return bundle


def train_surface(
    builder: FeatureBuilder,
    surface: str,
    config: TrainConfig,
    until: pd.Timestamp,
    candidates: CandidateGenerator,
    from_hidden: bool,
) -> TrainedSurface:
    """One surface's rankers, chosen scorer and candidate models; `from_hidden`: learned
    from hidden memberships (training/membership_set.py), else from logged impressions."""
    data, validation = builder.data, pd.Timedelta(days=config.validation_days)
    if from_hidden:
        train_set, valid_set = membership_training_sets(
            data,
            builder.config,
            until,
            config.seed,
            config.membership_candidates,
            candidates,
            config.position_bias == "feature",
        )
        full = train_set
    else:
        full = build_training_set(
            builder, surface, until, position_feature=config.position_bias == "feature"
        )
        train_set, valid_set = full.split(validation)
    booster, capacity = config.booster, dict[str, Any]()
    if config.selection.search_capacity:
        booster, capacity = search_capacity(
            train_set,
            valid_set,
            config.booster,
            config.negative_rate_for(len(train_set.frame)),
            config.seed,
            config.selection.search_rows,
        )
    rankers = fit_rankers(
        train_set, valid_set, config, booster, getattr(builder.engine, "client", None)
    )
    with step(f"choosing the {surface} scorer on {len(valid_set.frame):,} rows"):
        # ranked lists of hundreds of candidates, a join or more each: judged per list,
        # as the lists will be served
        metric: Metric = "ndcg" if from_hidden else "auc"
        chosen = select(rankers, valid_set, config.seed, metric)
    refit = not from_hidden and len(full.frame) <= config.selection.refit_rows
    if refit:
        with step(f"refitting the {surface} models on all {len(full.frame):,} rows"):
            rankers = refit_rankers(full, rankers, config, booster)
    als, item_models = fit_candidate_models(data, surface, config, until, from_hidden)
    recall = None  # measured against logged engagements: learned from hidden, there are none
    if not from_hidden:
        with step(f"recall of {surface} candidate sources"):
            recall = source_recall(builder, surface, config, until - validation, until, candidates)
    return TrainedSurface(
        surface=surface,
        rankers=rankers,
        rows=SurfaceRows.model_validate(
            {
                "train": len(train_set.frame),
                "valid": len(valid_set.frame),
                "from": str(full.frame[AS_OF].min()),
                "to": str(full.frame[AS_OF].max()),
            }
        ),
        selection={**chosen.to_dict(), "capacity": capacity, "refit_on_all_rows": refit},
        trained_from="hidden memberships" if from_hidden else "logged impressions",
        als=als,
        item_models=item_models,
        recall=recall,
    )
