"""Ranking quality on a simulated world: share of oracle of each strategy at the split,
against the simulator's truth (true click and join probabilities)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ranking.replay import Replayer
from ranking.strategy import load_strategies

from .oracle import share_of_oracle

K = {"feed": 10, "circle_suggestions": 5}
TARGET = {"feed": 0.85, "circle_suggestions": 0.93}
COMPARED = {
    "feed": [
        ("random", "random"),
        ("chronological", "chronological"),
        ("popularity", "popularity"),
        ("logistic regression", "logistic"),
        ("LambdaRank", "lambdarank"),
        ("LightGBM heads (value)", "engagement"),
        ("blend: click head + logistic", "blend"),
    ],
    "circle_suggestions": [
        ("random", "random_circles"),
        ("popularity", "popular_circles"),
        ("logistic regression", "logistic_circles"),
        ("LambdaRank", "lambdarank_circles"),
        ("LightGBM heads (value)", "heads_circles"),
        ("blend: join head + logistic", "suggest"),
    ],
}


@dataclass(frozen=True)
class QualityRow:
    surface: str
    label: str
    strategy: str
    share: float
    users_per_s: float


def read_truth(truth_dir: Path) -> dict[str, pd.DataFrame]:
    """user_id, item_id, gain per surface from the simulator's truth files."""
    feed = pd.read_parquet(truth_dir / "feed_truth.parquet")
    join = pd.read_parquet(truth_dir / "join_truth.parquet")
    return {
        "feed": feed.rename(columns={"post_id": "item_id", "p_engage": "gain"}),
        "circle_suggestions": join.rename(columns={"circle_id": "item_id", "p_join": "gain"}),
    }


def quality_rows(replayer: Replayer, truth: dict[str, pd.DataFrame]) -> list[QualityRow]:
    """Every compared strategy of every surface the bundle serves, ranked at the split."""
    rows = []
    for surface, strategies in COMPARED.items():
        if replayer.bundle is None or surface not in replayer.bundle.rankers:
            continue
        users = truth[surface]["user_id"].unique()
        for label, strategy in strategies:
            started = time.perf_counter()
            ranked = replayer.rank(surface, users, K[surface], strategy).ranked
            rate = len(users) / (time.perf_counter() - started)
            share = share_of_oracle(ranked, truth[surface], K[surface])
            rows.append(QualityRow(surface, label, strategy, share, rate))
    return rows


def render(rows: list[QualityRow]) -> str:
    defaults = load_strategies().defaults
    lines = []
    for surface in COMPARED:
        mine = [r for r in rows if r.surface == surface]
        if not mine:
            continue
        lines.append(f"{surface}: share of oracle@{K[surface]} (target >= {TARGET[surface]})")
        lines.append(f"  {'strategy':<36}{'share':>8}{'users/s':>10}")
        for r in mine:
            mark = "  <- default" if r.strategy == defaults.get(surface) else ""
            speed = f"{r.users_per_s:>10.0f}" if r.users_per_s else " " * 10
            lines.append(f"  {r.label:<36}{r.share:>8.4f}{speed}{mark}")
    return "\n".join(lines)
