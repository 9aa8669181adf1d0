"""Training rows for circle suggestions from memberships alone, for data with no logged
suggestion impressions (a public data set such as Last.fm, or an app before its first
suggestion was shown).

As of `until`, a share of each user's active memberships is hidden, with every trace
of them in the other tables (training/hidden.py). The candidate models (ALS, item-kNN,
EASE) are refitted on what stays visible, exactly as `train` fits the served ones; the
serving strategy gathers each user's candidates on the visible data (its sources and
filters); every candidate is a row, labelled by whether it is a hidden membership, with
the features and the candidate models' signals (training/signals.py) computed without
the hidden memberships. Each (hiding, user) is one query. Users, not time, split
training from validation, since every membership may carry the same date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from circlerank.errors import ModelError
from circlerank.progress import step
from features.compute import FeatureBuilder, model_columns
from features.config import FeatureConfig
from features.contract import ContractData
from features.pit import AS_OF

from .als import ALSModel
from .bundle import Bundle
from .candidates import CandidateGenerator
from .config import MembershipCandidates
from .dataset import POSITION, TrainingSet
from .hidden import active_memberships, hide, membership_interactions, without
from .item_models import fit_item_models
from .labels import LABELS
from .signals import SIGNALS, candidate_signals

SURFACE = "circle_suggestions"
VALID_SHARE = 0.2  # of users


def membership_training_sets(
    data: ContractData,
    config: FeatureConfig,
    until: pd.Timestamp,
    seed: int,
    candidates: MembershipCandidates,
    generator: CandidateGenerator,
    position_feature: bool = True,
) -> tuple[TrainingSet, TrainingSet]:
    """Training and validation sets of (user, circle) candidate rows labelled by hidden
    joins, `candidates.repeats` independent hidings stacked; `generator` gathers the
    candidates as serving would."""
    rng = np.random.default_rng(seed)
    active = active_memberships(data, until)
    parts = [
        _hiding(data, config, until, candidates, generator, active, repeat, rng, seed)
        for repeat in range(candidates.repeats)
    ]
    frame = pd.concat([p for p, _ in parts], ignore_index=True)
    columns = [*parts[0][1], *SIGNALS]
    for label in LABELS[SURFACE]:
        if label not in frame:
            frame[label] = 0
    if position_feature:
        columns = [*columns, POSITION]
    users = frame["user_id"].unique()
    valid_users = set(rng.choice(users, max(1, int(VALID_SHARE * len(users))), replace=False))
    in_valid = frame["user_id"].isin(valid_users).to_numpy()
    return (
        TrainingSet(SURFACE, frame[~in_valid].reset_index(drop=True), columns),
        TrainingSet(SURFACE, frame[in_valid].reset_index(drop=True), columns),
    )


def _hiding(
    data: ContractData,
    config: FeatureConfig,
    until: pd.Timestamp,
    candidates: MembershipCandidates,
    generator: CandidateGenerator,
    active: pd.DataFrame,
    repeat: int,
    rng: np.random.Generator,
    seed: int,
) -> tuple[pd.DataFrame, list[str]]:
    """The rows of one hiding and their feature columns."""
    hidden = active[hide(data, active, candidates.hidden_share, rng)]
    if hidden.empty:
        raise ModelError(f"{SURFACE}: got no user with 2+ memberships to hide one of")
    users = np.sort(hidden["user_id"].unique().astype(object))
    if len(users) > candidates.queries:
        users = np.sort(rng.choice(users, candidates.queries, replace=False))
        hidden = hidden[hidden["user_id"].isin(users).to_numpy()]
    visible = without(data, hidden)
    builder = FeatureBuilder(visible, config)
    what = f"without {len(hidden):,} hidden memberships"
    bundle = _candidate_models(visible, until, candidates, what, seed)
    with step(f"candidates of {len(users):,} users {what}"):
        rows = generator.strategy_candidates(
            visible, builder, until, bundle, SURFACE, users, candidates.strategy
        )
    models = bundle.candidate_models(SURFACE)
    joined = pd.MultiIndex.from_frame(hidden[["user_id", "circle_id"]])
    rows = rows.assign(join=pd.MultiIndex.from_frame(rows).isin(joined).astype(np.int64))
    # a query with no hidden membership among its candidates teaches nothing
    rows = rows[rows.groupby("user_id")["join"].transform("max").to_numpy() > 0]
    # signals over every candidate, as serving computes them; then the negatives sampled
    signals = pd.DataFrame(
        candidate_signals(
            rows["user_id"].to_numpy(dtype=object), rows["item_id"].to_numpy(dtype=object), models
        ),
        index=rows.index,
    )
    rows = _sampled(rows, candidates.negatives, rng)
    rows = rows.sort_values(["user_id", "item_id"], kind="stable")
    signals = signals.loc[rows.index].reset_index(drop=True)
    rows = rows.reset_index(drop=True).assign(**{AS_OF: until})
    with step(f"features of {len(rows):,} {SURFACE} candidate rows (hiding {repeat})"):
        features = builder.for_requests(rows[["user_id", "item_id", AS_OF]], SURFACE)
    columns = model_columns(features, builder)
    frame = pd.concat(
        [
            rows.assign(
                request_id=rows["user_id"] + f"#{repeat}", propensity=1.0, **{POSITION: 0.0}
            ),
            features[columns].set_axis(rows.index),
            signals,
        ],
        axis=1,
    )
    return frame, columns


def _candidate_models(
    visible: ContractData,
    until: pd.Timestamp,
    candidates: MembershipCandidates,
    what: str,
    seed: int,
) -> Bundle:
    """A bundle of the candidate models fitted on the visible data as `train` fits the
    served ones."""
    interactions = membership_interactions(visible, until)
    with step(f"ALS {what}"):
        als = ALSModel(candidates.als.params(seed)).fit(interactions)
    bundle = Bundle(manifest={"version": "hidden-memberships"}, als={SURFACE: als})
    bundle.add_item_models(SURFACE, fit_item_models(interactions, candidates.ease_params(), what))
    return bundle


def _sampled(rows: pd.DataFrame, negatives: int, rng: np.random.Generator) -> pd.DataFrame:
    """Every positive row and at most `negatives` negative rows of each user, at random."""
    order = rng.random(len(rows))
    rank = (
        pd.Series(order, index=rows.index)
        .groupby([rows["user_id"].to_numpy(), rows["join"].to_numpy()])
        .rank(method="first")
        .to_numpy()
    )
    return rows[(rows["join"].to_numpy() > 0) | (rank <= negatives)]
