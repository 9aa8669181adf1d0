"""Share of oracle: how much of the best achievable DCG a ranking reaches.

For each truth user: DCG@k of the returned list with the true probability as gain
(1 / log2(rank + 2) discount; items outside the truth gain 0), divided by the DCG@k
of that user's truth items in ideal order. Averaged over truth users; a user with
nothing returned scores 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def share_of_oracle(ranked: pd.DataFrame, truth: pd.DataFrame, k: int, gain: str = "gain") -> float:
    """`ranked`: user_id, item_id, rank (0-based); `truth`: user_id, item_id, `gain`."""
    truth = truth[["user_id", "item_id", gain]].rename(columns={gain: "gain"})
    users = pd.Index(truth["user_id"].unique())
    if len(users) == 0:
        return float("nan")
    top = ranked.loc[
        (ranked["rank"] < k) & ranked["user_id"].isin(users), ["user_id", "item_id", "rank"]
    ]
    got = top.merge(truth, on=["user_id", "item_id"], how="left")
    got["dcg"] = got["gain"].fillna(0.0) / np.log2(got["rank"].to_numpy(np.float64) + 2)
    dcg = got.groupby("user_id")["dcg"].sum().reindex(users, fill_value=0.0)
    ideal = truth.sort_values(["user_id", "gain"], ascending=[True, False])
    ideal = ideal.assign(rank=ideal.groupby("user_id").cumcount())
    ideal = ideal[ideal["rank"] < k]
    ideal_dcg = (
        (ideal["gain"] / np.log2(ideal["rank"] + 2)).groupby(ideal["user_id"]).sum()
    ).reindex(users)
    share = np.divide(
        dcg.to_numpy(),
        ideal_dcg.to_numpy(),
        out=np.zeros(len(users)),
        where=ideal_dcg.to_numpy() > 0,
    )
    return float(share.mean())
