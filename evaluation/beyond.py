"""Beyond accuracy: how much of the catalog a strategy shows, how novel and varied its
pages are, and how evenly it spreads exposure. Pages are (user_id, item_id, rank) rows;
only ranks below k count."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .exposure import gini


def _shown(pages: pd.DataFrame, k: int) -> pd.DataFrame:
    return pages[pages["rank"] < k]


def coverage(pages: pd.DataFrame, catalog: pd.Index, k: int) -> float:
    """Share of the catalog's items shown to at least one user."""
    if len(catalog) == 0:
        return float("nan")
    shown = pd.Index(_shown(pages, k)["item_id"].unique())
    return float(shown.isin(catalog).sum() / len(catalog))


def novelty(pages: pd.DataFrame, popularity: pd.Series, users: int, k: int) -> float:
    """Mean self-information -log2 p(item) of shown items, p = the share of `users` who
    interacted with the item before (items nobody touched count as 1 / (users + 1))."""
    shown = _shown(pages, k)["item_id"]
    if shown.empty:
        return float("nan")
    p = popularity.reindex(shown.to_numpy()).fillna(0).to_numpy(dtype=np.float64) / users
    p = np.maximum(p, 1.0 / (users + 1))
    return float(np.mean(-np.log2(p)))


def intra_list_diversity(pages: pd.DataFrame, attribute: pd.Series, k: int) -> float:
    """Mean over pages of the share of item pairs whose attribute (e.g. circle or topic)
    differs; pages with fewer than two items are skipped."""
    shown = _shown(pages, k)
    values = attribute.reindex(shown["item_id"].to_numpy()).to_numpy(dtype=object)
    frame = pd.DataFrame({"user_id": shown["user_id"].to_numpy(), "value": values})
    shares = []
    for _, group in frame.groupby("user_id", sort=False)["value"]:
        n = len(group)
        if n < 2:
            continue
        same = (group.value_counts() * (group.value_counts() - 1)).sum()
        shares.append(1.0 - same / (n * (n - 1)))
    return float(np.mean(shares)) if shares else float("nan")


def exposure_gini(pages: pd.DataFrame, group: pd.Series, every_group: pd.Index, k: int) -> float:
    """Gini of shown items over groups (authors, circles); groups never shown count 0."""
    owner = group.reindex(_shown(pages, k)["item_id"].to_numpy())
    counts = owner.value_counts().reindex(every_group, fill_value=0)
    return gini(counts.to_numpy())
