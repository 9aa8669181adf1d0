"""Logged impressions as feature requests: one row per impression, as of its own time."""

from __future__ import annotations

import pandas as pd

from .contract import ContractData
from .pit import AS_OF

IMPRESSION_COLUMNS = ["user_id", "item_id", AS_OF, "request_id", "position", "propensity", "arm"]


def logged_impressions(data: ContractData, surface: str) -> pd.DataFrame:
    """Impressions on `surface` in time order, `ts` renamed to as_of."""
    if not data.has("events"):
        return pd.DataFrame(columns=IMPRESSION_COLUMNS)
    events = data["events"]
    shown = events[(events["surface"] == surface) & (events["action"] == "impression")]
    rows = shown.rename(columns={"ts": AS_OF})[IMPRESSION_COLUMNS]
    return rows.sort_values(AS_OF, kind="stable").reset_index(drop=True)
