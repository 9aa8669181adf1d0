"""Training sets: logged impressions with their labels and point-in-time features."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from circlerank.errors import ModelError
from circlerank.progress import step
from features.compute import FeatureBuilder, model_columns
from features.contract import TABLES, ContractData, data_end
from features.pit import AS_OF, TS
from features.training_rows import logged_impressions

from .labels import LABELS, label_impressions

log = logging.getLogger(__name__)
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


def training_until(
    data: ContractData, until: pd.Timestamp | None, validation: pd.Timedelta
) -> pd.Timestamp:
    """The cut-off `train` learns before: `until`; by default just after the last logged
    event (the end of the data when there is no log). A cut-off so far past the end of
    the data that its validation window holds no row is moved back to that end: the
    same rows, and a real "now" for what decays or measures the days after the cut. The
    end is found among the rows before `until`, so what lies after it changes nothing."""
    if until is None:
        if data.has("events"):
            return data["events"]["ts"].astype(TS).max() + pd.Timedelta(microseconds=1)
        return data_end(data)
    latest = _latest_before(data, until)
    if latest is None or latest >= until - validation:
        return until
    end = latest + pd.Timedelta(seconds=1)  # as `data_end` marks the end of the data
    log.warning(
        "until %s is past the end of the data (%s): training on all of it, up to %s",
        until.isoformat(),
        latest.isoformat(),
        end.isoformat(),
    )
    return end


def seen_until(data: ContractData, until: pd.Timestamp) -> pd.Timestamp:
    """Just after the latest timestamp among the rows before `until`: a model trained
    before `until` has seen nothing at or after this instant (`until` when no row is
    before it)."""
    latest = _latest_before(data, until)
    return until if latest is None else min(until, latest + pd.Timedelta(microseconds=1))


def _latest_before(data: ContractData, until: pd.Timestamp) -> pd.Timestamp | None:
    """The latest timestamp of any table before `until` (None when there is none)."""
    latest = None
    for spec in TABLES:
        if not data.has(spec.name):
            continue
        for column in spec.timestamp_columns:
            times = data[spec.name][column].astype(TS)
            value = times[(times < until).to_numpy(dtype=bool, na_value=False)].max()
            if pd.notna(value) and (latest is None or value > latest):
                latest = value
    return latest


def build_training_set(
    builder: FeatureBuilder,
    surface: str,
    until: pd.Timestamp | None = None,
    position_feature: bool = True,
) -> TrainingSet:
    """Impressions on `surface` before `until` (all when None), each with the features as
    of its own time and the actions that followed it before `until`."""
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
        labels = label_impressions(impressions, data["events"], surface, until=until)
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
