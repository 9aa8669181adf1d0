"""Offline metrics for candidate retrieval."""

from __future__ import annotations

import numpy as np
import pandas as pd

from circlerank.errors import CircleRankError, ConfigError


def recall_at_k(candidates: pd.DataFrame, positives: pd.DataFrame, k: int) -> float:
    """Mean over users with a positive of |top-k candidates ∩ positives| / |positives|.

    Top-k is the k lowest `rank` rows of each user; users with positives but no candidates
    count 0. NaN when no user has a positive.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"k must be an integer >= 1, got {k!r}")
    for name, frame, columns in (
        ("candidates", candidates, ("user_id", "item_id", "rank")),
        ("positives", positives, ("user_id", "item_id")),
    ):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise CircleRankError(f"recall_at_k: {name} lacks column(s) {', '.join(missing)}")
    pairs = ["user_id", "item_id"]
    pos = positives[pairs].astype(str).drop_duplicates()
    if pos.empty:
        return float("nan")
    top = (
        candidates[[*pairs, "rank"]]
        .astype({"user_id": str, "item_id": str})
        .sort_values(["user_id", "rank"], kind="stable")
        .drop_duplicates(pairs)
        .groupby("user_id", sort=False)
        .head(k)[pairs]
    )
    hits = pos.merge(top, on=pairs, how="inner").groupby("user_id").size()
    n_pos = pos.groupby("user_id").size()
    recall = hits.reindex(n_pos.index, fill_value=0) / n_pos
    return float(recall.mean())
