"""Training sets: logged impressions with their labels and point-in-time features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from circlerank.errors import ModelError
from circlerank.progress import step
from features.compute import FeatureBuilder, model_columns
from features.pit import AS_OF, TS
from features.training_rows import logged_impressions

from .labels import LABELS, label_impressions

POSITION = "position"
PRIMARY = {"feed": "click", "circle_suggestions": "join"}


@dataclass
class TrainingSet:
    """One row per logged impression: keys, logging columns, features and labels."""

    surface: str
    frame: pd.DataFrame
    features: list[str]  # model inputs, in a fixed order

    @property
    def labels(self) -> tuple[str, ...]:
        return LABELS[self.surface]

    @property
    def primary(self) -> str:
        return PRIMARY[self.surface]

    def matrix(self) -> pd.DataFrame:
        return self.frame[self.features]

    def split(self, validation: pd.Timedelta) -> tuple[TrainingSet, TrainingSet]:
        """Time-based: the last `validation` of the logs is held out."""
        cut = self.frame[AS_OF].max() - validation
        late = (self.frame[AS_OF] > cut).to_numpy()
        if late.all() or not late.any():
            raise ModelError(
                f"{self.surface}: cannot hold out the last {validation} of "
                f"{len(self.frame):,} impressions spanning "
                f"{self.frame[AS_OF].min()} to {self.frame[AS_OF].max()}"
            )
        return (
            TrainingSet(self.surface, self.frame[~late].reset_index(drop=True), self.features),
            TrainingSet(self.surface, self.frame[late].reset_index(drop=True), self.features),
        )

    def groups(self) -> np.ndarray:
        """Sizes of consecutive runs of one request (rows are sorted by request)."""
        request = self.frame["request_id"].astype("str").to_numpy()
        starts = np.flatnonzero(np.r_[True, request[1:] != request[:-1]])
        return np.diff(np.r_[starts, len(request)])


def build_training_set(
    builder: FeatureBuilder,
    surface: str,
    until: pd.Timestamp | None = None,
    position_feature: bool = True,
) -> TrainingSet:
    """Impressions on `surface` before `until` (all when None), each with the features as
    of its own time and the actions that followed it."""
    data = builder.data
    impressions = logged_impressions(data, surface)
    if until is not None:
        impressions = impressions[impressions[AS_OF].astype(TS) < until]
    if impressions.empty:
        raise ModelError(f"got 0 logged impressions on {surface} to train on")
    missing = impressions["request_id"].isna()
    if missing.any():
        # one group per (user, time) stands in for a missing request id
        stand_in = impressions["user_id"] + "@" + impressions[AS_OF].astype("str")
        impressions["request_id"] = impressions["request_id"].where(~missing, stand_in)
    impressions = impressions.sort_values(["request_id", "position"], kind="stable")
    impressions = impressions.reset_index(drop=True)
    with step(f"labels for {len(impressions):,} {surface} impressions"):
        labels = label_impressions(impressions, data["events"], surface)
    with step(f"point-in-time features for {len(impressions):,} {surface} impressions"):
        features = builder.for_requests(impressions, surface)
    columns = model_columns(features, builder)
    frame = pd.concat(
        [
            impressions,
            features[columns].set_axis(impressions.index),
            labels,
        ],
        axis=1,
    )
    frame[POSITION] = frame[POSITION].astype("float64")
    if position_feature:
        columns = [*columns, POSITION]
    return TrainingSet(surface, frame, columns)
