"""What is known at an instant: a row counts when its time is strictly before it, and a
later change (a leave, a deletion) only once it has happened. Every point-in-time view
of the catalog reads time columns through these, and keeps what it derives per key."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

import numpy as np
import pandas as pd

from features.pit import TS

T = TypeVar("T")


def before(column: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
    """Where the time is known and before as_of."""
    return (column.astype(TS) < as_of).to_numpy(dtype=bool, na_value=False)


def not_yet(column: pd.Series, as_of: pd.Timestamp) -> np.ndarray:
    """True where the time is missing or not before as_of (a leave, a deletion)."""
    return ~before(column, as_of)


class Memos:
    """Values computed once per key for a view that lives as long as its snapshot."""

    def __init__(self) -> None:
        self._values: dict[tuple[object, ...], object] = {}

    def get(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        if key not in self._values:
            self._values[key] = compute()
        return cast(T, self._values[key])
