"""The social ties in force at an instant: friends (both ways), follows and transfer
partners (both ways), with a strength; what social sources and explanations read."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from circlerank.arrays import rows_by_value, rows_of_values
from features.contract import ContractData

from .instant import before


class SocialTies:
    """The ties of `data` created before `as_of`."""

    def __init__(self, data: ContractData, as_of: pd.Timestamp) -> None:
        self.data, self.as_of = data, as_of

    @cached_property
    def table(self) -> pd.DataFrame:
        """user_id, other_id pairs: friends (both ways), follows and transfer partners
        (both ways), with a strength: friend 1, follow 0.5, plus log1p(transfers)."""
        parts = []
        if self.data.has("social_edges"):
            s = self.data["social_edges"]
            s = s[before(s["created_at"], self.as_of)]
            friend = s[s["kind"] == "friend"]
            follow = s[s["kind"] != "friend"]
            for a, b, frame, w in (
                ("user_id", "other_id", friend, 1.0),
                ("other_id", "user_id", friend, 1.0),
                ("user_id", "other_id", follow, 0.5),
            ):
                parts.append(
                    pd.DataFrame({"user_id": frame[a], "other_id": frame[b], "w": w, "n": 0})
                )
        if self.data.has("transfers"):
            t = self.data["transfers"]
            t = t[before(t["ts"], self.as_of)]
            for a, b in (("sender_id", "receiver_id"), ("receiver_id", "sender_id")):
                parts.append(pd.DataFrame({"user_id": t[a], "other_id": t[b], "w": 0.0, "n": 1}))
        if not parts:
            return pd.DataFrame(columns=["user_id", "other_id", "strength"])
        both = pd.concat(parts, ignore_index=True).fillna({"n": 0})
        both = both[both["user_id"] != both["other_id"]]
        g = both.groupby(["user_id", "other_id"], as_index=False).agg(
            w=("w", "max"), n=("n", "sum")
        )
        return pd.DataFrame(
            {
                "user_id": g["user_id"],
                "other_id": g["other_id"],
                "strength": g["w"] + np.log1p(g["n"].to_numpy(dtype=np.float64)),
            }
        )

    def pairs_of(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (user_id, other_id) ties of these users, as object arrays, in table order
        (no scan of the table)."""
        rows = rows_of_values(self._rows_by_user, users)
        user, other = self._ids
        return user[rows], other[rows]

    @cached_property
    def _ids(self) -> tuple[np.ndarray, np.ndarray]:
        ties = self.table
        return ties["user_id"].to_numpy(dtype=object), ties["other_id"].to_numpy(dtype=object)

    @cached_property
    def _rows_by_user(self) -> dict[str, np.ndarray]:
        return rows_by_value(self.table["user_id"])
