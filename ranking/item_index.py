"""The live items of each surface at a catalog's instant, by row: fresh posts (feed) and
circles (suggestions). The pipeline adds each candidate's row (ROW) once; components
then read an item's attributes by row, with a last slot (row -1) answering for ids
that are not live items."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np
import pandas as pd

from circlerank.frames import values_of
from features.pit import TS

from .instant import Memos

ROW = "row"  # a candidate's row in ItemIndex.table(surface); -1 when it is not a live item


class ItemIndex:
    """`posts` (fresh, indexed by post_id) and `circles` (live, indexed by circle_id) as
    the items of the feed and of circle suggestions; `joins` gives circle popularity."""

    def __init__(
        self, posts: pd.DataFrame, circles: pd.DataFrame, joins: Callable[[], pd.Series]
    ) -> None:
        self._tables = {
            "feed": posts.set_index("post_id"),
            "circle_suggestions": circles.set_index("circle_id"),
        }
        self._joins = joins
        self._memos = Memos()

    def table(self, surface: str) -> pd.DataFrame:
        """The live items of a surface indexed by id."""
        return self._tables[surface]

    def popularity(self, surface: str) -> pd.Series:
        """Decayed engagement of posts (feed) or decayed joins of circles, by item id."""
        return self.table("feed")["engagement"] if surface == "feed" else self._joins()

    def rows(self, surface: str, ids: pd.Series) -> np.ndarray:
        """Each id's row in `table(surface)`, -1 where it is not a live item. A dict
        lookup of the request's Python strings: no pandas dtype inference per call."""
        get = self._row_by_id[surface].get
        return np.fromiter((get(i, -1) for i in ids.tolist()), np.int64, len(ids))

    def row_by_id(self, surface: str) -> dict[str, int]:
        """item id -> its row in `table(surface)`."""
        return self._row_by_id[surface]

    @cached_property
    def _row_by_id(self) -> dict[str, dict[str, int]]:
        return {
            surface: {key: row for row, key in enumerate(items.index.tolist())}
            for surface, items in self._tables.items()
        }

    def candidate_values(self, surface: str, column: str, candidates: pd.DataFrame) -> np.ndarray:
        """`table(surface)[column]` of each candidate row: NaN (numbers; times as Unix
        seconds) or None where the item is not live. Reads the candidates' ROW column
        when present."""
        if ROW in candidates:
            rows = values_of(candidates, ROW, np.int64)
        else:
            rows = self.rows(surface, candidates["item_id"])
        return self.by_row(surface, column)[rows]

    def by_row(self, surface: str, column: str) -> np.ndarray:
        """`table(surface)[column]` by row, then the not-live slot (row -1): NaN
        (numbers; times as Unix seconds) or None."""

        def values() -> np.ndarray:
            column_values = self.table(surface)[column]
            if isinstance(column_values.dtype, pd.DatetimeTZDtype):
                seconds = column_values.astype(TS).astype("int64") / 1e6  # us since the epoch
                return np.append(np.where(column_values.isna(), np.nan, seconds), np.nan)
            numeric = pd.api.types.is_numeric_dtype(column_values)
            if numeric and not pd.api.types.is_bool_dtype(column_values):
                return np.append(column_values.to_numpy(dtype=np.float64, na_value=np.nan), np.nan)
            none = np.array([None], dtype=object)
            return np.concatenate([column_values.to_numpy(dtype=object), none])

        return self._memos.get(("column", surface, column), values)

    def codes(self, surface: str, column: str) -> np.ndarray:
        """Integer codes of `table(surface)[column]` by row, then -1 for the not-live
        slot (missing values are -1 too); `code_by_value` maps values to them."""
        return self._factorized(surface, column)[0]

    def code_by_value(self, surface: str, column: str) -> dict[str, int]:
        """value -> its code in `codes(surface, column)`."""
        return self._factorized(surface, column)[1]

    def _factorized(self, surface: str, column: str) -> tuple[np.ndarray, dict[str, int]]:
        def factorized() -> tuple[np.ndarray, dict[str, int]]:
            codes, values = pd.factorize(self.table(surface)[column])
            code_by_value = {v: c for c, v in enumerate(values.tolist())}
            return np.append(codes.astype(np.int64), -1), code_by_value

        return self._memos.get(("codes", surface, column), factorized)
