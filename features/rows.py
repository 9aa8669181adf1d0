"""Feature rows as one float matrix with named columns: what serving builds and what
the models read, without a DataFrame on the way.

A request's model matrix is a column gather of this matrix (one copy). The same rows as
a DataFrame, identical to `FeatureBuilder.for_requests`, are built only when asked for:
pandas spends more time constructing, extending and reindexing a 130-column frame than
the whole gather of 1,000 rows' features takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pandas as pd

from .pit import AS_OF, TS

KEYS = ("user_id", "item_id", AS_OF)


class FeatureRows:
    """Feature values (rows x columns, C order) of (user_id, item_id, as_of) rows, plus
    constant columns set by `assign` (a serving-time position, say)."""

    def __init__(
        self,
        keys: pd.DataFrame,
        values: np.ndarray,
        columns: pd.Index,
        position: dict[str, int] | None = None,
        constants: dict[str, float] | None = None,
    ) -> None:
        if values.shape != (len(keys), len(columns)):
            raise ValueError(
                f"values of shape {values.shape} for {len(keys)} rows x {len(columns)}"
            )
        self.keys = keys
        self.values = values
        self.value_columns = columns
        self._position = position if position is not None else {c: i for i, c in enumerate(columns)}
        self.constants = dict(constants or {})

    def __len__(self) -> int:
        return len(self.keys)

    def get(self, name: str) -> np.ndarray | None:
        """One feature column as floats, or None when the rows lack it."""
        if name in self.constants:
            return np.full(len(self), self.constants[name])
        at = self._position.get(name)
        return None if at is None else self.values[:, at].copy()

    def assign(self, **constants: float) -> FeatureRows:
        """The same rows with columns set to one value each (added or overridden)."""
        return FeatureRows(
            self.keys,
            self.values,
            self.value_columns,
            self._position,
            {**self.constants, **{k: float(v) for k, v in constants.items()}},
        )

    def with_columns(self, columns: dict[str, np.ndarray]) -> FeatureRows:
        """The same rows with per-row columns added (or replaced), one value per row."""
        kept = [c for c in self.value_columns if c not in columns]
        values = self.values if len(kept) == len(self.value_columns) else self.matrix(kept)
        added = np.column_stack([np.asarray(v, dtype=np.float64) for v in columns.values()])
        return FeatureRows(
            self.keys,
            np.ascontiguousarray(np.hstack([values, added.reshape(len(self), -1)])),
            pd.Index([*kept, *columns]),
            constants=self.constants,
        )

    def matrix(self, names: Sequence[str]) -> np.ndarray:
        """The named columns as a new C-ordered float64 matrix, NaN where the rows lack
        a column (as `training.ranker.inputs` gives for a frame)."""
        get = self._position.get
        at = np.fromiter((get(n, -1) for n in names), dtype=np.intp, count=len(names))
        out = np.empty((len(self), len(names)))
        # a model reads the columns in a few runs of the stored order: copying slices
        # is several times faster than a fancy index over the columns
        for start, stop in _runs(at):
            if at[start] < 0:
                out[:, start:stop] = np.nan
            else:
                out[:, start:stop] = self.values[:, at[start] : at[start] + stop - start]
        for j, name in enumerate(names):
            if name in self.constants:
                out[:, j] = self.constants[name]
        return out

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame: keys, then features, then added constants."""
        out = pd.DataFrame(self.values, columns=self.value_columns, index=self.keys.index)
        for position, key in enumerate(KEYS):
            column = self.keys[key]
            out.insert(position, key, column.astype(TS) if key == AS_OF else column.array)
        for name, value in self.constants.items():
            out[name] = value
        out.columns = pd.Index(out.columns.tolist())
        return out


def _runs(at: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) spans of `at` that step by one (or are all -1)."""
    if len(at) == 0:
        return []
    step = np.diff(at)
    breaks = (step != 1) & ~((at[1:] < 0) & (at[:-1] < 0))
    edges = [0, *(np.flatnonzero(breaks) + 1).tolist(), len(at)]
    return list(pairwise(edges))


ModelRows = pd.DataFrame | FeatureRows
