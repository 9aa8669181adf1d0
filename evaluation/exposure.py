"""Who a ranking gives exposure to: member-made content, new creators, how evenly
authors share the slots, and how many authors a page shows.

Computed from ranked pages (user_id, item_id, rank) and the items' facts, so the same
numbers describe an offline replay and a day of served logs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative amounts: 0 when all are equal, (n - 1) / n when
    one holds everything. NaN for no amounts or a zero total."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total <= 0:
        return float("nan")
    ranks = np.arange(1, n + 1)
    return float(2.0 * (ranks * x).sum() / (n * total) - (n + 1) / n)


@dataclass(frozen=True)
class Exposure:
    member_made: float  # share of shown posts written by members, not the platform
    new_creators: float  # share of shown posts by new creators
    author_gini: float  # Gini of shown posts over every author with a candidate post
    authors_per_page: float  # distinct authors / page length, averaged over pages


def exposure(
    pages: pd.DataFrame, posts: pd.DataFrame, new_creators: frozenset[str], k: int
) -> Exposure:
    """`pages`: user_id, item_id, rank; `posts`: indexed by post id with author_id and
    is_official, every post that could have been shown (authors never shown count as
    zero exposure)."""
    shown = pages[pages["rank"] < k]
    facts = posts.reindex(shown["item_id"].to_numpy())
    author = facts["author_id"].to_numpy(dtype=object)
    official = facts["is_official"].to_numpy(dtype=object)
    counts = pd.Series(author).value_counts()
    every_author = counts.reindex(posts["author_id"].unique(), fill_value=0)
    per_page = pd.DataFrame({"user_id": shown["user_id"].to_numpy(), "author": author})
    per_page = per_page.groupby("user_id")["author"].agg(lambda a: a.nunique() / len(a))
    return Exposure(
        member_made=float(np.mean([o is False or o is np.False_ for o in official]))
        if len(official)
        else float("nan"),
        new_creators=float(np.mean([a in new_creators for a in author]))
        if len(author)
        else float("nan"),
        author_gini=gini(every_author.to_numpy()),
        authors_per_page=float(per_page.mean()) if len(per_page) else float("nan"),
    )
