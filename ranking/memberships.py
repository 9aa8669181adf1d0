"""The memberships in force at an instant, by user: what sources, filters and
explanations read of who belongs where."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from circlerank.arrays import rows_by_value, rows_of_values
from features.contract import ContractData
from features.pit import TS

from .instant import before


class Memberships:
    """The memberships of `data` active at `as_of` (joined before it, not left by it)."""

    def __init__(self, data: ContractData, as_of: pd.Timestamp, half_life: pd.Timedelta) -> None:
        self.data, self.as_of, self.half_life = data, as_of, half_life

    @cached_property
    def table(self) -> pd.DataFrame:
        """user_id, circle_id of every membership active at as_of."""
        m = self.data["memberships"]
        active = before(m["joined_at"], self.as_of) & ~before(m["left_at"], self.as_of)
        return m.loc[active, ["user_id", "circle_id"]].drop_duplicates().reset_index(drop=True)

    @cached_property
    def ids(self) -> tuple[np.ndarray, np.ndarray]:
        """The user and circle ids of `table` as object arrays (a request picks its rows
        from them: converting a column of the table costs a pass over it)."""
        m = self.table
        return m["user_id"].to_numpy(dtype=object), m["circle_id"].to_numpy(dtype=object)

    @cached_property
    def decayed_joins(self) -> pd.Series:
        """Decayed joins per circle before as_of (circle popularity), active or not."""
        m = self.data["memberships"]
        joined = m[before(m["joined_at"], self.as_of)]
        age = (self.as_of - joined["joined_at"].astype(TS)) / (self.half_life * 30)
        weight = np.exp2(-age.to_numpy(dtype=np.float64))
        return pd.Series(weight, index=joined["circle_id"].to_numpy()).groupby(level=0).sum()

    def rows_of(self, users: np.ndarray) -> np.ndarray:
        """The rows of `table` of these users, in table order (no scan of the table)."""
        return rows_of_values(self._rows_by_user, users)

    def rows_each(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each of `users` in turn (repeats included), its rows of `table` in table
        order: the position in `users` each row belongs to, and the rows (what a merge
        of `users` with `table` on the user gives, in its order)."""
        by_user = self._rows_by_user
        none = np.empty(0, dtype=np.intp)
        found = [by_user.get(u, none) for u in np.asarray(users, dtype=object).tolist()]
        if not found:
            return none, none
        counts = np.fromiter((len(f) for f in found), np.intp, len(found))
        return np.repeat(np.arange(len(found)), counts), np.concatenate(found).astype(np.intp)

    @cached_property
    def _rows_by_user(self) -> dict[str, np.ndarray]:
        return rows_by_value(self.table["user_id"])
