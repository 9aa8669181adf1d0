"""The page: per user, the best `limit` candidates by score, ties broken by item id."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ranking.pipeline import RANKED_COLUMNS, _top


def reference_page(frame: pd.DataFrame, limit: int) -> pd.DataFrame:
    ordered = frame.sort_values(
        ["user_id", "score", "item_id"], ascending=[True, False, True], kind="stable"
    )
    page = ordered.groupby("user_id", sort=False).head(limit)
    page = page.assign(rank=page.groupby("user_id", sort=False).cumcount())
    return page[RANKED_COLUMNS].reset_index(drop=True)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("limit", [1, 3, 50])
def test_page_matches_a_sort_and_groupby(seed: int, limit: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    frame = pd.DataFrame(
        {
            "user_id": pd.Series(rng.choice([f"u{i}" for i in range(7)], n), dtype=object),
            "item_id": pd.Series([f"p{i:04d}" for i in rng.permutation(n)], dtype=object),
            "sources": rng.integers(1, 8, n),
            # few distinct scores, so many ties fall to the item id
            "score": rng.integers(0, 5 if seed % 2 else 1000, n).astype(np.float64),
        }
    )

    got = _top(frame.drop(columns="score"), frame["score"].to_numpy(), limit)

    pd.testing.assert_frame_equal(
        got, reference_page(frame, limit), check_dtype=False, check_column_type=False
    )
    shown = got.groupby("user_id").size()
    assert (shown == frame.groupby("user_id").size().clip(upper=limit)).all()
