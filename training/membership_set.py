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

from .dataset import POSITION, TrainingSet
from .labels import LABELS

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
) -> tuple[TrainingSet, TrainingSet]:
    """Training and validation sets of (user, circle) rows labelled by hidden joins."""
    rng = np.random.default_rng(seed)
    active = _active(data, until)
    counts = active.groupby("user_id")["circle_id"].transform("size").to_numpy()
    eligible = counts >= 2  # a user keeps at least one visible membership
    if eligible.sum() < 2:
        raise ModelError(f"{SURFACE}: got {int(eligible.sum())} users with 2+ memberships")
    order = rng.random(len(active))
    rank = pd.Series(order).groupby(active["user_id"].to_numpy()).rank(method="first").to_numpy()
    quota = np.maximum(1, np.round(HIDDEN_SHARE * counts)).astype(int)
    hidden_mask = eligible & (rank <= quota)
    hidden = active[hidden_mask]
    visible_tables = dict(data.tables)
    visible_tables["memberships"] = data["memberships"].drop(index=hidden.index)
    visible = ContractData(visible_tables, data.report)

    circles = data["circles"]["circle_id"].to_numpy(dtype=object)
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
