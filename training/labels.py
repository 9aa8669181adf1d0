"""Labels of logged impressions: which actions followed each one.

An action belongs to the latest impression of the same user, surface and item at or
before it, within `horizon`; the request id is not needed, so logs without it still
label. Several actions of one kind on one impression count once. Training passes its
cut-off: no action at or after it is read, so an impression shortly before the cut-off
is labelled only by what followed it before the cut-off.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.pit import AS_OF, TS

FEED_LABELS = ("click", "like", "comment", "share", "hide", "report")
SUGGESTION_LABELS = ("join", "dismiss")
LABELS = {"feed": FEED_LABELS, "circle_suggestions": SUGGESTION_LABELS}
HORIZON = pd.Timedelta(days=1)


def label_impressions(
    impressions: pd.DataFrame,
    events: pd.DataFrame,
    surface: str,
    horizon: pd.Timedelta = HORIZON,
    until: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """0/1 columns, one per action of the surface, aligned with `impressions`
    (user_id, item_id, as_of rows, as from `features.training_rows.logged_impressions`),
    from the actions before `until` only (all when None)."""
    labels = LABELS[surface]
    out = pd.DataFrame(0, index=impressions.index, columns=list(labels), dtype=np.int8)
    acted = events[(events["surface"] == surface) & events["action"].isin(labels)]
    if until is not None:
        acted = acted[(acted["ts"].astype(TS) < until).to_numpy()]
    if acted.empty or impressions.empty:
        return out
    # merge_asof wants one sorted time column; pair codes stand in for (user, item)
    pair = pd.MultiIndex.from_frame(impressions[["user_id", "item_id"]].astype("str"))
    codes = pd.Index(pair.unique())
    shown = pd.DataFrame(
        {
            "pair": codes.get_indexer(pair),
            "ts": impressions[AS_OF].astype(TS).to_numpy(),
            "row": np.arange(len(impressions)),
        }
    ).sort_values("ts", kind="stable")
    act_pair = codes.get_indexer(
        pd.MultiIndex.from_frame(acted[["user_id", "item_id"]].astype("str"))
    )
    actions = pd.DataFrame(
        {"pair": act_pair, "ts": acted["ts"].astype(TS).to_numpy(), "action": acted["action"]}
    )
    actions = actions[actions["pair"] >= 0].sort_values("ts", kind="stable")
    matched = pd.merge_asof(
        actions, shown, on="ts", by="pair", direction="backward", tolerance=horizon
    ).dropna(subset=["row"])
    rows = matched["row"].to_numpy(dtype=np.int64)
    for label in labels:
        hit = rows[(matched["action"] == label).to_numpy()]
        column = np.zeros(len(impressions), dtype=np.int8)
        column[hit] = 1
        out[label] = column
    return out
