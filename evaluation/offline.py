"""Offline comparison of strategies on a held-out period.

Every strategy ranks, as of time TS, the users active after TS, with the pipeline the
API uses. Nothing at or after TS is visible to it. The relevance judgments are what the
users did after TS: on the feed, gain 1 for a click, 2 for a like or comment and 3 for a
share; on suggestions, 1 for a join. Hides and reports count as judged, not relevant.
Per strategy, each ranking metric is a mean over users with a 95% t-interval. Each pair
of strategies gets a paired t-test over the same users. The beyond-accuracy metrics are
computed on the same pages.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from features.pit import TS
from ranking.replay import Replayer

from . import report
from .beyond import coverage, exposure_gini, intra_list_diversity, novelty
from .exposure import exposure
from .metrics import MEASURES, per_user
from .quality import NEW_CREATOR_DAYS

GAIN = {
    "feed": {"click": 1, "like": 2, "comment": 2, "share": 3, "hide": 0, "report": 0},
    "circle_suggestions": {"join": 1, "dismiss": 0},
}
K = {"feed": 10, "circle_suggestions": 5}


@dataclass(frozen=True)
class Interval:
    mean: float
    ci_low: float
    ci_high: float


@dataclass
class Comparison:
    surface: str
    k: int
    users: int
    metrics: dict[str, dict[str, Interval]]  # strategy -> metric -> interval
    beyond: dict[str, dict[str, float]]  # strategy -> metric -> value
    pairs: list[dict[str, Any]] = field(default_factory=list)
    # strategy -> shown items per author (feed) or circle (suggestions), zeros included
    exposure: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        strategies: dict[str, dict[str, float]] = {}
        for name, values in self.metrics.items():
            row = {f"{m}@{self.k}": v.mean for m, v in values.items()}
            row.update(self.beyond.get(name, {}))
            strategies[name] = row
        intervals = {
            name: {f"{m}@{self.k}": [v.ci_low, v.ci_high] for m, v in values.items()}
            for name, values in self.metrics.items()
        }
        return {
            "surface": self.surface,
            "k": self.k,
            "users": self.users,
            "strategies": strategies,
            "intervals": intervals,
            "pairs": self.pairs,
        }


def judgments(events: pd.DataFrame, surface: str, after: pd.Timestamp) -> pd.DataFrame:
    """user_id, item_id, gain: the best action of each user on each item after `after`."""
    e = events[(events["surface"] == surface) & (events["ts"].astype(TS) >= after)]
    gain = e["action"].map(GAIN[surface])
    judged = e.assign(gain=gain)[gain.notna().to_numpy()]
    best = judged.groupby(["user_id", "item_id"], as_index=False)["gain"].max()
    return best.astype({"gain": np.int64})


def _interval(values: np.ndarray) -> Interval:
    n = len(values)
    mean = float(values.mean()) if n else float("nan")
    if n < 2:
        return Interval(mean, float("nan"), float("nan"))
    half = float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n))
    return Interval(mean, mean - half, mean + half)


def compare(
    replayer: Replayer, surface: str, strategies: list[str], k: int | None = None
) -> Comparison:
    """Rank the users active after the replayer's instant with every strategy."""
    k = k or K[surface]
    data, at = replayer.data, replayer.at
    qrels = judgments(data["events"], surface, at)
    users = np.asarray(pd.unique(qrels["user_id"]), dtype=object)
    catalog = replayer.catalog
    items = catalog.item_index.table(surface)
    history = data["events"][data["events"]["ts"].astype(TS) < at]
    popularity = history.groupby("item_id")["user_id"].nunique()
    population = max(int(history["user_id"].nunique()), 1)
    metrics: dict[str, dict[str, Interval]] = {}
    beyond: dict[str, dict[str, float]] = {}
    tables: dict[str, pd.DataFrame] = {}
    owners = items["author_id"] if surface == "feed" else pd.Series(items.index, index=items.index)
    shown_per_owner: dict[str, list[float]] = {}
    for name in strategies:
        ranked = replayer.rank(surface, users, k, name).ranked
        run = ranked[["user_id", "item_id", "score"]]
        # users a strategy left without items still count: every measure 0 for them
        table = per_user(run, qrels, k).reindex(users, fill_value=0.0)
        tables[name] = table
        metrics[name] = {m: _interval(table[m].to_numpy()) for m in MEASURES}
        beyond[name] = _beyond(ranked, items, surface, catalog, popularity, population, k)
        shown = owners.reindex(ranked[ranked["rank"] < k]["item_id"].to_numpy()).value_counts()
        counts = shown.reindex(pd.Index(owners.unique()), fill_value=0)
        shown_per_owner[name] = counts.astype(float).tolist()
    pairs = []
    for a, b in itertools.combinations(strategies, 2):
        for m in MEASURES:
            x, y = tables[a][m].to_numpy(), tables[b][m].to_numpy()
            diff = y - x
            p = float(stats.ttest_rel(y, x).pvalue) if np.any(diff != 0) else 1.0
            iv = _interval(diff)
            pairs.append(
                {
                    "a": a,
                    "b": b,
                    "metric": f"{m}@{k}",
                    "diff": iv.mean,
                    "ci_low": iv.ci_low,
                    "ci_high": iv.ci_high,
                    "p_value": p,
                }
            )
    return Comparison(surface, k, len(users), metrics, beyond, pairs, shown_per_owner)


def _beyond(
    ranked: pd.DataFrame,
    items: pd.DataFrame,
    surface: str,
    catalog: Any,
    popularity: pd.Series,
    population: int,
    k: int,
) -> dict[str, float]:
    out = {
        "coverage": coverage(ranked, items.index, k),
        "novelty": novelty(ranked, popularity, population, k),
    }
    if surface == "feed":
        circle = items["circle_id"]
        seen = exposure(ranked, items, catalog.feed.new_creators(NEW_CREATOR_DAYS), k)
        out["intra_list_diversity"] = intra_list_diversity(ranked, circle, k)
        out["author_gini"] = seen.author_gini
        out["circle_gini"] = exposure_gini(ranked, circle, pd.Index(circle.unique()), k)
        out["member_made"] = seen.member_made
        out["new_creator_share"] = seen.new_creators
    else:
        topic = items["topic"] if "topic" in items else pd.Series(dtype=object)
        out["intra_list_diversity"] = intra_list_diversity(ranked, topic, k)
        out["circle_gini"] = exposure_gini(
            ranked, pd.Series(items.index, index=items.index), items.index, k
        )
    return out


def html_sections(result: Comparison) -> list[str]:
    """The report's sections: metric bars with intervals, pairs, beyond accuracy, and
    Lorenz curves of exposure."""
    names = list(result.metrics)
    out = []
    for m in MEASURES:
        cells = [result.metrics[n][m] for n in names]
        out.append(
            report.section(
                f"{m}@{result.k}",
                report.interval_bars(
                    names,
                    [c.mean for c in cells],
                    [c.ci_low for c in cells],
                    [c.ci_high for c in cells],
                ),
                note="mean over users with a 95% t-interval",
            )
        )
    out.append(
        report.section(
            "paired differences (b - a) over the same users",
            report.table(
                ["a", "b", "metric", "diff", "ci low", "ci high", "p"],
                [
                    [
                        p["a"],
                        p["b"],
                        p["metric"],
                        p["diff"],
                        p["ci_low"],
                        p["ci_high"],
                        p["p_value"],
                    ]
                    for p in result.pairs
                ],
            ),
        )
    )
    keys = list(next(iter(result.beyond.values()), {}))
    out.append(
        report.section(
            "beyond accuracy",
            report.table(
                ["strategy", *keys], [[n, *(result.beyond[n][k] for k in keys)] for n in names]
            ),
        )
    )
    owner = "authors" if result.surface == "feed" else "circles"
    out.append(
        report.section(
            f"exposure over {owner} (Lorenz curves)",
            report.lines(
                {n: report.lorenz(c) for n, c in result.exposure.items()},
                x_label=f"share of {owner}, least shown first",
                y_label="share of shown items",
                diagonal=True,
            ),
            note="the diagonal is perfectly even exposure; the further below, the more unequal",
        )
    )
    return out
