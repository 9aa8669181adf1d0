"""Training rows for circle suggestions from memberships alone, for data with no logged
suggestion impressions (a public data set such as Last.fm).

As of `until`, a random share of each user's active memberships is hidden. The features
are computed on the data without them, as if the user had not joined yet, and each
hidden membership is a join. The negatives are circles the user never belonged to,
drawn by popularity, as a candidate source would offer them. Users, not time, split
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
from features.pit import AS_OF, TS

from .als import ALSModel, ALSParams
from .config import MembershipCandidates
from .dataset import POSITION, TrainingSet
from .item_models import fit_item_models
from .labels import LABELS
from .signals import SIGNALS as SIGNAL_COLUMNS
from .signals import PairScorer, candidate_signals

SURFACE = "circle_suggestions"
HIDDEN_SHARE = 0.2  # of each user's memberships, at least one
NEGATIVES = 20  # per hidden membership
VALID_SHARE = 0.2  # of users


def _active(data: ContractData, until: pd.Timestamp) -> pd.DataFrame:
    m = data["memberships"]
    joined = m["joined_at"].astype(TS) < until
    left = m["left_at"].astype(TS)
    return m[(joined & (left.isna() | (left >= until))).to_numpy()]


def membership_training_sets(
    data: ContractData,
    config: FeatureConfig,
    until: pd.Timestamp,
    seed: int,
    position_feature: bool = True,
    candidates: MembershipCandidates | None = None,
    als: ALSParams | None = None,
) -> tuple[TrainingSet, TrainingSet]:
    """Training and validation sets of (user, circle) rows labelled by hidden joins:
    against popularity-drawn negatives, or with `candidates` against what the candidate
    sources offer (see `candidate_training_sets`)."""
    if candidates is not None:
        return candidate_training_sets(data, config, until, seed, candidates, als)
    rng = np.random.default_rng(seed)
    active = _active(data, until)
    eligible = active.groupby("user_id")["circle_id"].transform("size").to_numpy() >= 2
    if eligible.sum() < 2:
        raise ModelError(f"{SURFACE}: got {int(eligible.sum())} users with 2+ memberships")
    hidden = active[_hide(active, HIDDEN_SHARE, rng)]
    visible_tables = dict(data.tables)
    visible_tables["memberships"] = data["memberships"].drop(index=hidden.index)
    visible = ContractData(visible_tables, data.report)

    # negatives among the circles that existed at `until`: a later one was never offered
    existed = (data["circles"]["created_at"].astype(TS) < until).to_numpy()
    circles = data["circles"].loc[existed, "circle_id"].to_numpy(dtype=object)
    popularity = (
        active["circle_id"].value_counts().reindex(circles, fill_value=0).to_numpy(np.float64) + 1
    )
    weights = popularity / popularity.sum()
    members = active.groupby("user_id")["circle_id"].agg(set)
    users, n_hidden = np.unique(hidden["user_id"].to_numpy(dtype=object), return_counts=True)
    negatives = []
    for user, n in zip(users, n_hidden, strict=True):
        drawn = rng.choice(len(circles), size=min(len(circles), 3 * n * NEGATIVES), p=weights)
        own = members[user]
        picked = [c for c in dict.fromkeys(circles[drawn]) if c not in own][: n * NEGATIVES]
        negatives.append(pd.DataFrame({"user_id": user, "item_id": picked, "join": 0}))
    positives = pd.DataFrame(
        {
            "user_id": hidden["user_id"].to_numpy(),
            "item_id": hidden["circle_id"].to_numpy(),
            "join": 1,
        }
    )
    rows = pd.concat([positives, *negatives], ignore_index=True)
    rows = rows.sort_values(["user_id", "join"], ascending=[True, False], kind="stable")
    rows = rows.reset_index(drop=True).assign(**{AS_OF: until})
    builder = FeatureBuilder(visible, config)
    with step(f"features of {len(rows):,} {SURFACE} rows from hidden memberships"):
        features = builder.for_requests(rows[["user_id", "item_id", AS_OF]], SURFACE)
    columns = model_columns(features, builder)
    frame = pd.concat(
        [
            rows.assign(request_id=rows["user_id"], propensity=1.0, **{POSITION: 0.0}),
            features[columns].set_axis(rows.index),
        ],
        axis=1,
    )
    for label in LABELS[SURFACE]:
        if label not in frame:
            frame[label] = 0
    if position_feature:
        columns = [*columns, POSITION]
    valid_users = set(rng.choice(users, max(1, int(VALID_SHARE * len(users))), replace=False))
    in_valid = frame["user_id"].isin(valid_users).to_numpy()
    return (
        TrainingSet(SURFACE, frame[~in_valid].reset_index(drop=True), columns),
        TrainingSet(SURFACE, frame[in_valid].reset_index(drop=True), columns),
    )


def _hide(active: pd.DataFrame, share: float, rng: np.random.Generator) -> np.ndarray:
    """A bool per active membership: hidden (a `share` of each user's, at least one,
    and never all of them: a user keeps at least one visible membership)."""
    counts = active.groupby("user_id")["circle_id"].transform("size").to_numpy()
    order = rng.random(len(active))
    rank = pd.Series(order).groupby(active["user_id"].to_numpy()).rank(method="first").to_numpy()
    quota = np.maximum(1, np.round(share * counts)).astype(int)
    return (counts >= 2) & (rank <= quota)


def candidate_training_sets(
    data: ContractData,
    config: FeatureConfig,
    until: pd.Timestamp,
    seed: int,
    candidates: MembershipCandidates,
    als: ALSParams | None = None,
) -> tuple[TrainingSet, TrainingSet]:
    """Hidden joins ranked among the candidates serving would offer.

    For each of `candidates.repeats` independent hidings: a share of each user's
    memberships is hidden, ALS, item-kNN and EASE are refitted on the rest, the configured
    candidate sources run on the visible data (the not-member filter applied), and every
    candidate is a row, labelled by whether it is a hidden membership. Each (hiding,
    user) is one query; the features (and the candidate models' signals) are computed
    without the hidden memberships. Users, not time, split training from validation."""
    from ranking.catalog import Catalog
    from ranking.components import CandidateSource, RankContext
    from ranking.strategy import REGISTRY

    from .bundle import Bundle

    rng = np.random.default_rng(seed)
    active = _active(data, until)
    parts = []
    columns: list[str] = []
    for repeat in range(candidates.repeats):
        hidden_mask = _hide(active, candidates.hidden_share, rng)
        if hidden_mask.sum() == 0:
            raise ModelError(f"{SURFACE}: got no user with 2+ memberships to hide one of")
        hidden = active[hidden_mask]
        tables = dict(data.tables)
        tables["memberships"] = data["memberships"].drop(index=hidden.index)
        visible = ContractData(tables, data.report)
        pairs = _active(visible, until)
        interactions = pd.DataFrame(
            {"user_id": pairs["user_id"], "item_id": pairs["circle_id"], "weight": 1.0}
        )
        without = f"without {len(hidden):,} hidden memberships"
        with step(f"ALS {without}"):
            als_model = ALSModel(als).fit(interactions)
        item_models = fit_item_models(interactions, candidates.ease_params(), without)
        bundle = Bundle(
            manifest={"version": "hidden-memberships"},
            als={SURFACE: als_model},
        )
        bundle.add_item_models(SURFACE, item_models)
        models: dict[str, PairScorer | None] = bundle.candidate_models(SURFACE)
        catalog = Catalog(visible, until, freshness=pd.Timedelta(days=7))
        ctx = RankContext(surface=SURFACE, catalog=catalog, features=None, bundle=bundle)
        users = np.sort(hidden["user_id"].unique().astype(object))
        found = []
        for name, params in candidates.sources.items():
            cls = REGISTRY["sources"][name]
            source = cls(cls.Params.model_validate(params))
            assert isinstance(source, CandidateSource)
            found.append(source.fetch(ctx, users)[["user_id", "item_id"]])
        rows = pd.concat(found, ignore_index=True).drop_duplicates()
        member = pd.MultiIndex.from_frame(pairs[["user_id", "circle_id"]])
        rows = rows[~pd.MultiIndex.from_frame(rows).isin(member)]
        joined = pd.MultiIndex.from_frame(hidden[["user_id", "circle_id"]])
        rows = rows.assign(join=pd.MultiIndex.from_frame(rows).isin(joined).astype(np.int64))
        # a query with no hidden membership among its candidates teaches nothing
        rows = rows[rows.groupby("user_id")["join"].transform("max").to_numpy() > 0]
        rows = rows.sort_values(["user_id", "item_id"], kind="stable").reset_index(drop=True)
        rows = rows.assign(**{AS_OF: until})
        builder = FeatureBuilder(visible, config)
        with step(f"features of {len(rows):,} {SURFACE} candidate rows (hiding {repeat})"):
            features = builder.for_requests(rows[["user_id", "item_id", AS_OF]], SURFACE)
        columns = model_columns(features, builder)
        signals = candidate_signals(
            rows["user_id"].to_numpy(dtype=object), rows["item_id"].to_numpy(dtype=object), models
        )
        parts.append(
            pd.concat(
                [
                    rows.assign(
                        request_id=rows["user_id"] + f"#{repeat}",
                        propensity=1.0,
                        **{POSITION: 0.0},
                    ),
                    features[columns].set_axis(rows.index),
                    pd.DataFrame(signals, index=rows.index),
                ],
                axis=1,
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    for label in LABELS[SURFACE]:
        if label not in frame:
            frame[label] = 0
    columns = [*columns, *SIGNAL_COLUMNS]
    users = frame["user_id"].unique()
    valid_users = set(rng.choice(users, max(1, int(VALID_SHARE * len(users))), replace=False))
    in_valid = frame["user_id"].isin(valid_users).to_numpy()
    return (
        TrainingSet(SURFACE, frame[~in_valid].reset_index(drop=True), columns),
        TrainingSet(SURFACE, frame[in_valid].reset_index(drop=True), columns),
    )
