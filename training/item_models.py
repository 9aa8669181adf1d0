"""The item-to-item candidate models that circle suggestions learned from memberships
alone use beside ALS, by the name the bundle, the candidate sources and the rankers'
signals know each by."""

from __future__ import annotations

from typing import Any

import pandas as pd

from circlerank.progress import step

from .ease import EASE, EASEParams
from .item_to_item import ItemToItem
from .knn import ItemKNN

ITEM_MODELS: dict[str, type[ItemToItem[Any]]] = {"knn": ItemKNN, "ease": EASE}


def fit_item_models(
    interactions: pd.DataFrame, ease: EASEParams, what: str
) -> dict[str, ItemToItem[Any]]:
    """Every model of ITEM_MODELS fitted on (user_id, item_id) `interactions`."""
    models: dict[str, ItemToItem[Any]] = {}
    for name, cls in ITEM_MODELS.items():
        model = cls(ease) if cls is EASE else cls()
        with step(f"{model.kind} {what}: {len(interactions):,} user-item pairs"):
            models[name] = model.fit(interactions)
    return models
