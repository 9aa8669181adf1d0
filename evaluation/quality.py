"""Ranking quality on a simulated world: share of oracle of each strategy at the split,
against the simulator's truth (true click and join probabilities)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ranking.replay import Replayer
from ranking.strategy import load_strategies

from .exposure import Exposure, exposure
from .oracle import share_of_oracle

K = {"feed": 10, "circle_suggestions": 5}
TARGET = {"feed": 0.85, "circle_suggestions": 0.93}
NEW_CREATOR_DAYS = 14.0  # "new creator": first post at most this old
COMPARED = {
    "feed": [
        ("random", "random"),
        ("chronological", "chronological"),
        ("popularity", "popularity"),
        ("logistic regression", "logistic"),
        ("LambdaRank", "lambdarank"),
        ("LightGBM heads (value)", "heads"),
        ("blend: click head + logistic, even", "blend"),
        ("engagement: the bundle's choice (auto)", "engagement"),
        ("community: auto + ecosystem re-ranking", "community"),
    ],
    "circle_suggestions": [
        ("random", "random_circles"),
        ("popularity", "popular_circles"),
        ("logistic regression", "logistic_circles"),
        ("LambdaRank", "lambdarank_circles"),
        ("LightGBM heads (value)", "heads_circles"),
        ("suggest: the bundle's choice (auto)", "suggest"),
        ("grow: auto + small-circle boost", "grow_circles"),
    ],
}


@dataclass(frozen=True)
class QualityRow:
    surface: str
    label: str
    strategy: str
    share: float
    users_per_s: float
    exposure: Exposure | None = None  # feed only


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
            seen = None
            if surface == "feed":
                catalog = replayer.catalog
                posts = catalog.item_index.table("feed")
                seen = exposure(
                    ranked, posts, catalog.feed.new_creators(NEW_CREATOR_DAYS), K[surface]
                )
            rows.append(QualityRow(surface, label, strategy, share, rate, seen))
    return rows


EXPOSURE_HEAD = f"{'member':>8}{'new cr.':>8}{'Gini':>7}{'authors':>8}"


def exposure_cells(row: QualityRow) -> str:
    """A feed row's exposure figures under EXPOSURE_HEAD; empty without them."""
    e = row.exposure
    if e is None:
        return ""
    return (
        f"{e.member_made:>8.3f}{e.new_creators:>8.3f}{e.author_gini:>7.3f}"
        f"{e.authors_per_page:>8.3f}"
    )


def render(rows: list[QualityRow]) -> str:
    defaults = load_strategies().defaults
    lines = []
    for surface in COMPARED:
        mine = [r for r in rows if r.surface == surface]
        if not mine:
            continue
        lines.append(f"{surface}: share of oracle@{K[surface]} (target >= {TARGET[surface]})")
        head = f"  {'strategy':<42}{'share':>8}{'users/s':>9}"
        if surface == "feed":
            head += EXPOSURE_HEAD
        lines.append(head)
        for r in mine:
            mark = "  <- default" if r.strategy == defaults.get(surface) else ""
            speed = f"{r.users_per_s:>9.0f}" if r.users_per_s else " " * 9
            lines.append(f"  {r.label:<42}{r.share:>8.4f}{speed}{exposure_cells(r)}{mark}")
        if surface == "feed":
            lines.append(
                "  member: share of shown posts made by members; new cr.: by authors whose "
                f"first post is <= {NEW_CREATOR_DAYS:.0f} days old; Gini: of shown posts "
                "over authors; authors: distinct authors per page / page length"
            )
    return "\n".join(lines)


def ecosystem_summary(rows: list[QualityRow], base: str, policy: str) -> str:
    """How `policy` (re-ranked) compares with `base` (pure model score) on the feed:
    the share of oracle it keeps, and how exposure moves."""
    found = {r.strategy: r for r in rows if r.surface == "feed"}
    if base not in found or policy not in found:
        return ""
    a, b = found[base], found[policy]
    if a.exposure is None or b.exposure is None:
        return ""
    kept = b.share / a.share if a.share else float("nan")
    ea, eb = a.exposure, b.exposure
    return (
        f"{policy} vs {base}: keeps {kept:.1%} of its share of oracle (target >= 98%); "
        f"member-made {ea.member_made:.3f} -> {eb.member_made:.3f}, "
        f"new creators {ea.new_creators:.3f} -> {eb.new_creators:.3f}, "
        f"author Gini {ea.author_gini:.3f} -> {eb.author_gini:.3f}, "
        f"authors per page {ea.authors_per_page:.3f} -> {eb.authors_per_page:.3f}"
    )
