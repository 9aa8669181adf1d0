"""Credit (user): the score in force and its band.

Credit is an eligibility gate (a circle's min_credit_score) and a trust signal, never a
measure of interest: the view is not a model input (model_input=False); filters use it
to drop circles a user may not join.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..pit import Latest, days, point_in_time
from .base import FeatureView, Streams, ViewParams

BAND_EDGES = (550, 650, 750)  # bands 0..3: poor, fair, good, excellent


def credit_band(score: np.ndarray) -> np.ndarray:
    """0 poor (< 550), 1 fair, 2 good, 3 excellent (>= 750); NaN without a score."""
    band = np.searchsorted(np.asarray(BAND_EDGES), score, side="right").astype(float)
    return np.where(np.isnan(score), np.nan, band)


def _stream(streams: Streams) -> pd.DataFrame:
    scores = streams.data["credit_scores"]
    return pd.DataFrame(
        {
            "user_id": scores["user_id"],
            "ts": scores["ts"],
            "score": scores["score"].to_numpy(dtype=np.float64),
            "scored_at": days(scores["ts"]),
        }
    )


def _aggregate(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    got = point_in_time(stream, queries, ["user_id"], [Latest(("score", "scored_at"))])
    score = got["score_latest"].to_numpy()
    now = days(queries["as_of"])
    return pd.DataFrame(
        {
            "credit_score": score,
            "credit_band": credit_band(score),
            "credit_age_days": now - got["scored_at_latest"].to_numpy(),
        },
        index=queries.index,
    )


USER_CREDIT = FeatureView(
    name="user_credit",
    entity="user",
    keys=("user_id",),
    sources=("credit_scores",),
    description=(
        "Credit score in force (latest strictly before t), its band and age. For "
        "eligibility and trust only, never as a stand-in for interest."
    ),
    stream=_stream,
    aggregate=_aggregate,
    model_input=False,
)
