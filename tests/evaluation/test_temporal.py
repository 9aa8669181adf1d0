"""The temporal protocol on a hand-built world whose judged pairs and scores are known.

T = 2008-01-01, window one year (2008). Before T (distinct members: c1 4, c4 3, c3 2, c2 1, c5 1,
c6 1; joins in the 180 days before T: c4 3, c3 1):

    a: c1, c2 (left 2007-06)   b: c1   e: c3, c4   f: c1, c4, c5   g: c3, c4   h: c1
    j: c6

After T: a re-joins c2 (held), joins c3 twice, c4, c9 (created after T) and c5 (after
the window); b joins c5; f joins c6 at T exactly, c3 a second before the window ends
and c2 at its end; g joins c1 and c7 (created at T exactly); j joins c4; k (no
membership before T) and d (registered after T) join c3.

Judged pairs: a {c3, c4}, b {c5}, f {c3, c6}, g {c1}, j {c4}; eligible users a b e f g
h j; judged users a b f g j.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation import temporal
from evaluation.temporal import (
    evaluate,
    intervals,
    mask,
    popularity,
    protocol,
    ratio,
    recent_popularity,
)
from features.contract import load_contract

T = "2008-01-01"
OLD = "2007-01-01"


def _world() -> dict[str, pd.DataFrame]:
    users = pd.DataFrame(
        {
            "user_id": ["a", "b", "d", "e", "f", "g", "h", "j", "k"],
            "registered_at": [OLD, OLD, "2008-03-01", OLD, OLD, OLD, OLD, OLD, OLD],
        }
    )
    circles = pd.DataFrame(
        {
            "circle_id": [f"c{i}" for i in (1, 2, 3, 4, 5, 6, 7, 9)],
            "created_at": [OLD] * 6 + ["2008-01-01T00:00:00Z", "2008-02-01"],
        }
    ).assign(name=lambda c: c["circle_id"], topic="t")
    rows = [
        # before T
        ("a", "c1", "2007-02-01", None),
        ("a", "c2", "2007-03-01", "2007-06-01"),
        ("b", "c1", "2007-05-01", None),
        ("e", "c3", "2007-12-01", None),
        ("e", "c4", "2007-12-15", None),
        ("f", "c1", "2007-01-15", None),
        ("f", "c4", "2007-12-20", None),
        ("f", "c5", "2007-03-01", None),
        ("g", "c4", "2007-11-01", None),
        ("g", "c3", "2007-01-05", None),
        ("h", "c1", "2007-02-10", None),
        ("j", "c6", "2007-06-01", None),
        # after T
        ("a", "c2", "2008-02-01", None),
        ("a", "c3", "2008-03-01", None),
        ("a", "c3", "2008-07-01", None),
        ("a", "c4", "2008-04-01", None),
        ("a", "c9", "2008-05-01", None),
        ("a", "c5", "2009-02-01", None),
        ("b", "c5", "2008-06-01", None),
        ("f", "c6", "2008-01-01T00:00:00Z", None),
        ("f", "c3", "2008-12-31T23:59:59Z", None),
        ("f", "c2", "2009-01-01T00:00:00Z", None),
        ("g", "c1", "2008-05-01", None),
        ("g", "c7", "2008-03-01", None),
        ("j", "c4", "2008-02-01", None),
        ("k", "c3", "2008-02-01", None),
        ("d", "c3", "2008-04-01", None),
    ]
    memberships = pd.DataFrame(rows, columns=["user_id", "circle_id", "joined_at", "left_at"])
    return {"users": users, "circles": circles, "memberships": memberships}


JUDGED = {("a", "c3"), ("a", "c4"), ("b", "c5"), ("f", "c3"), ("f", "c6"), ("g", "c1")}
JUDGED |= {("j", "c4")}
# NDCG@2 of one relevant item at rank 2, and of one of two relevant items at rank 1
AT_2 = 1 / math.log2(3)
ONE_OF_TWO = 1 / (1 + 1 / math.log2(3))


@pytest.fixture(scope="module")
def world() -> dict[str, pd.DataFrame]:
    return _world()


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["user_id"], frame["item_id"], strict=True))


def _lists(run: pd.DataFrame) -> dict[str, list[str]]:
    return {u: list(g["item_id"]) for u, g in run.groupby("user_id", sort=True)}


def test_the_judged_set_is_exactly_the_new_joins_in_circles_existing_at_t(
    world: dict[str, pd.DataFrame],
) -> None:
    p = protocol(world, T)
    assert _pairs(p.qrels) == JUDGED
    assert (p.qrels["gain"] == 1).all()
    assert list(p.circles) == ["c1", "c2", "c3", "c4", "c5", "c6"]  # not c7 (at T), c9
    assert list(p.eligible) == ["a", "b", "e", "f", "g", "h", "j"]  # not d, k
    assert list(p.users) == ["a", "b", "f", "g", "j"]
    assert ("a", "c2") in p.held  # left before T, still held: its re-join is not judged
    assert p.stats() == {
        "circles_at_t": 6,
        "eligible_users": 7,
        "judged_users": 5,
        "judged_pairs": 7,
        "held_pairs": 12,
    }


def test_the_window_is_half_open_and_sets_the_end(world: dict[str, pd.DataFrame]) -> None:
    assert protocol(world, T).end == pd.Timestamp("2009-01-01", tz="UTC")
    # 2008 has 366 days: 365 of them end a day early, without f's join of 12-31
    assert _pairs(protocol(world, T, window_days=365).qrels) == JUDGED - {("f", "c3")}
    short = protocol(world, T, window_days=60)  # joins before 2008-03-01
    assert _pairs(short.qrels) == {("f", "c6"), ("j", "c4")}  # a re-joined c2: held
    assert short.end == pd.Timestamp("2008-03-01", tz="UTC")


def test_the_same_world_read_through_the_contract(
    world: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    """The tables as `load_contract` returns them (typed, UTC) judge the same pairs."""
    for name, frame in world.items():
        frame.to_parquet(tmp_path / f"{name}.parquet", index=False)
    data = load_contract(tmp_path, quarantine_dir=tmp_path / "q")
    p = protocol({n: data[n] for n in temporal.TABLES}, T)
    assert _pairs(p.qrels) == JUDGED
    assert list(p.users) == ["a", "b", "f", "g", "j"]


def test_popularity_and_recent_popularity_orders(world: dict[str, pd.DataFrame]) -> None:
    p = protocol(world, T)
    # members before T: c1 4, c4 3, c3 2, then c2, c5, c6 with 1 each (by id); held masked
    assert _lists(popularity(p, k=6)) == {
        "a": ["c4", "c3", "c5", "c6"],
        "b": ["c4", "c3", "c2", "c5", "c6"],
        "f": ["c3", "c2", "c6"],
        "g": ["c1", "c2", "c5", "c6"],
        "j": ["c1", "c4", "c3", "c2", "c5"],
    }
    # joins in the 180 days before T: c4 3, c3 1, the rest 0 (then by members: c1 first)
    assert _lists(recent_popularity(p, k=6))["j"] == ["c4", "c3", "c1", "c2", "c5"]
    assert _lists(recent_popularity(p, k=6))["b"] == ["c4", "c3", "c2", "c5", "c6"]


def test_metrics_by_hand_at_2(world: dict[str, pd.DataFrame]) -> None:
    p = protocol(world, T)
    pop = evaluate(popularity(p, k=2), p, k=2)
    # a: c4 c3 (both), b: c4 c3 (none), f: c3 c2 (one of two, first), g: c1 c2, j: c1 c4
    assert pop["ndcg"].to_dict() == pytest.approx(
        {"a": 1.0, "b": 0.0, "f": ONE_OF_TWO, "g": 1.0, "j": AT_2}
    )
    assert pop["recall"].to_dict() == pytest.approx(
        {"a": 1.0, "b": 0.0, "f": 0.5, "g": 1.0, "j": 1.0}
    )
    recent = evaluate(recent_popularity(p, k=2), p, k=2)  # j: c4 c3
    assert recent["ndcg"].mean() == pytest.approx((3 + ONE_OF_TWO) / 5)
    assert recent["recall"].mean() == pytest.approx(3.5 / 5)


def test_masking_and_users_left_without_a_ranking(world: dict[str, pd.DataFrame]) -> None:
    """Held pairs, circles not existing at T and unjudged users are dropped before the
    cut-off; a judged user with no row scores 0 and counts in the mean."""
    p = protocol(world, T)
    run = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "a", "a", "e"],
            "item_id": ["c1", "c9", "c7", "c5", "c3", "c2"],
            "score": [9.0, 8.0, 7.0, 6.0, 5.0, 1.0],
        }
    )
    assert _lists(mask(run, p, k=2)) == {"a": ["c5", "c3"]}
    table = evaluate(run, p, k=2)
    assert list(table.index) == ["a", "b", "f", "g", "j"]
    ndcg_a = AT_2 / (1 + AT_2)  # c3 at rank 2 of two relevant
    assert table.loc["a"].to_dict() == pytest.approx({"ndcg": ndcg_a, "recall": 0.5})
    assert table["ndcg"].sum() == pytest.approx(ndcg_a)
    assert evaluate(run.iloc[:0], p, k=2)["ndcg"].tolist() == [0.0] * 5


def test_intervals_and_ratio() -> None:
    users = pd.Index([f"u{i}" for i in range(200)], name="user_id")
    rng = np.random.default_rng(3)
    a = pd.DataFrame({"ndcg": rng.random(200), "recall": np.full(200, 0.25)}, index=users)
    b = a.assign(ndcg=a["ndcg"] / 2)
    table = intervals({"a": a, "b": b}, resamples=500)
    assert table.loc["a", "ndcg_low"] < a["ndcg"].mean() < table.loc["a", "ndcg_high"]
    assert table.loc["a", "recall_low"] == table.loc["a", "recall_high"] == 0.25
    # the same draws for every model: b's bounds are a's halved
    assert table.loc["b", "ndcg_low"] == pytest.approx(table.loc["a", "ndcg_low"] / 2)
    normal = intervals({"a": a}, method="normal")
    half = 1.959964 * a["ndcg"].std(ddof=1) / math.sqrt(200)
    assert normal.loc["a", "ndcg_high"] == pytest.approx(a["ndcg"].mean() + half, rel=1e-6)
    assert ratio(a, b, resamples=500) == pytest.approx((2.0, 2.0, 2.0))
    point, low, high = ratio(b, a.assign(ndcg=rng.random(200)), resamples=500)
    assert low < point < high


def test_als_finds_the_missing_circle_of_a_block() -> None:
    """Two blocks of 30 users each holding their block's 5 circles; the judged users
    hold 4 of them and ALS's first suggestion is the fifth."""
    rows = []
    for block, first in (("x", 0), ("y", 5)):
        for i in range(30):
            for c in range(first, first + 5):
                if i < 3 and c == first + 4:
                    rows.append((f"{block}{i}", f"c{c}", "2008-03-01"))  # joined after T
                else:
                    rows.append((f"{block}{i}", f"c{c}", "2007-06-01"))
    memberships = pd.DataFrame(rows, columns=["user_id", "circle_id", "joined_at"])
    tables = {
        "users": pd.DataFrame({"user_id": memberships["user_id"].unique(), "registered_at": OLD}),
        "circles": pd.DataFrame({"circle_id": [f"c{c}" for c in range(10)], "created_at": OLD}),
        "memberships": memberships,
    }
    p = protocol(tables, T)
    assert len(p.users) == 6
    run = temporal.als(p, factors=4, k=3)
    firsts = run.groupby("user_id")["item_id"].first().to_dict()
    assert firsts == {"x0": "c4", "x1": "c4", "x2": "c4", "y0": "c9", "y1": "c9", "y2": "c9"}
    assert evaluate(run, p)["ndcg"].tolist() == pytest.approx([1.0] * 6)
    tuned = temporal.tuned_als(tables, p)  # the validation cut judges nobody: first setting
    assert tuned.setting == temporal.ALS_GRID[0] and tuned.validation_ndcg == {}


def _grouped_world(users: int = 120, circles: int = 24, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Three groups of users, each joining 5 of its group's 8 circles at random times
    over 2006-2008; circles are created over 2006-05/2007 (some after T = 2007-03-01)."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2006-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 500, circles), unit="D"
    )
    rows = []
    for u in range(users):
        mine = [c for c in range(circles) if c % 3 == u % 3]
        for c in rng.choice(mine, size=5, replace=False):
            rows.append(
                (f"u{u}", f"c{c}", created[c] + pd.Timedelta(days=int(rng.integers(1, 700))))
            )
    memberships = pd.DataFrame(rows, columns=["user_id", "circle_id", "joined_at"])
    first = memberships.groupby("user_id")["joined_at"].min()
    return {
        "users": pd.DataFrame({"user_id": first.index, "registered_at": first.to_numpy()}),
        "circles": pd.DataFrame(
            {
                "circle_id": [f"c{i}" for i in range(circles)],
                "name": "circle",
                "topic": [f"t{i % 3}" for i in range(circles)],
                "created_at": created,
            }
        ),
        "memberships": memberships,
    }


@pytest.mark.slow
def test_the_engine_runs_train_and_rank_on_the_tables_as_they_are(tmp_path: Path) -> None:
    """`circlerank train --until T` and `rank --at T` as subprocesses (about 20 s): every
    judged user gets up to ten circles that exist at T and were not held, the bundle learned
    before T, the data directory is left untouched, and the engine finds the groups
    popularity cannot."""
    tables = _grouped_world()
    data = tmp_path / "data"
    data.mkdir()
    for name, frame in tables.items():
        frame.to_parquet(data / f"{name}.parquet", index=False)
    p = protocol(tables, "2007-03-01")
    assert 0 < len(p.circles) < 24 and len(p.users) > 50
    result = temporal.engine(data, p, tmp_path / "work")
    assert set(result.run["user_id"]) == set(p.users)
    assert result.run.groupby("user_id").size().max() <= 10
    assert len(mask(result.run, p)) == len(result.run)  # nothing held, nothing after T
    assert pd.Timestamp(result.train_summary["until"]) == p.at
    assert sorted(path.name for path in data.iterdir()) == [
        "circles.parquet",
        "memberships.parquet",
        "users.parquet",
    ]
    engine_ndcg = evaluate(result.run, p)["ndcg"].mean()
    assert engine_ndcg > evaluate(popularity(p), p)["ndcg"].mean() + 0.1
