"""Nothing at or after `until` reaches `train`: scrambling the future of a small world
(every row at or after the cut-off removed, or replaced by different random rows, and
every later leave or deletion of an earlier row changed) leaves the training rows, the
trained models' predictions and the validation metrics identical."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from evaluation.simulator import SimConfig, SimResult, simulate
from features.compute import FeatureBuilder
from features.contract import load_contract
from features.training_rows import logged_impressions
from ranking.for_training import ServingCandidates
from tests.conftest import read_world
from tests.features.future import ENDS, KNOWN_AT
from training.bundle import Bundle
from training.config import ALSConfig, BoosterParams, TrainConfig
from training.dataset import build_training_set
from training.labels import label_impressions
from training.membership_set import membership_training_sets
from training.train import surfaces_of, train

# the manifest fields that describe the run or hash the whole data, not what was learned
RUN_FIELDS = ("version", "created_at", "seconds", "peak_rss_mb")
# small and quick; the logistic baseline sees nothing the heads do not (the same frames)
CONFIG = TrainConfig(
    rankers=("heads", "lambdarank"),
    validation_days=3,
    booster=BoosterParams(min_data_in_leaf=20, max_rounds=20, early_stopping_rounds=5, threads=1),
    als=ALSConfig(factors=8, iterations=5),
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> SimResult:
    out = tmp_path_factory.mktemp("worlds") / "leak"
    return simulate(SimConfig(users=700, days=14, seed=3), out_dir=out)


@pytest.fixture(scope="module")
def until(world: SimResult) -> pd.Timestamp:
    events = read_world(world.out_dir)["events"]
    return between_impression_and_click(events, world.split_time - pd.Timedelta(days=2))


def between_impression_and_click(events: pd.DataFrame, near: pd.Timestamp) -> pd.Timestamp:
    """A cut-off near `near` between a feed impression and the click that followed it
    (seconds later): a leak of labels would show."""
    feed = events[events["surface"] == "feed"].sort_values("ts")
    keys = ["user_id", "item_id"]
    shown = feed.loc[feed["action"] == "impression", [*keys, "ts"]]
    clicks = feed.loc[feed["action"] == "click", [*keys, "ts"]]
    pairs = pd.merge_asof(
        clicks, shown.assign(shown=shown["ts"]), on="ts", by=keys, direction="backward"
    )
    gap = pairs["ts"] - pairs["shown"]
    pairs = pairs[gap > pd.Timedelta(seconds=1)]
    click = pairs.iloc[int((pairs["ts"] - near).abs().to_numpy().argmin())]
    return pd.Timestamp(click["shown"] + (click["ts"] - click["shown"]) / 2).floor("ms")


def removed(tables: dict[str, pd.DataFrame], until: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Every row of the future dropped; later leaves and deletions forgotten."""
    out = dict(tables)
    for name, column in KNOWN_AT.items():
        if name not in tables:
            continue
        out[name] = tables[name][tables[name][column] < until].reset_index(drop=True)
    for name, column in ENDS.items():
        later = out[name][column] >= until
        out[name] = out[name].assign(**{column: out[name][column].mask(later)})
    return out


def replaced(
    tables: dict[str, pd.DataFrame], until: pd.Timestamp, seed: int
) -> dict[str, pd.DataFrame]:
    """The past as it is; the future drawn anew: other users, circles and posts (with a
    city and a topic never seen before), other events, payments and memberships by
    anyone on anything, and other leaves and deletions of the past's rows."""
    rng = np.random.default_rng(seed)
    end = max(table[KNOWN_AT[name]].max() for name, table in tables.items() if name in KNOWN_AT)
    span = (end - until) / pd.Timedelta(microseconds=1)

    def times(n: int) -> pd.Series:
        offsets = rng.uniform(0, span, n).astype(np.int64)
        return pd.Series(until + pd.to_timedelta(offsets, unit="us"))

    def new_rows(name: str, n: int, **columns: Any) -> pd.DataFrame:
        """`n` rows like random ones of the table, new times, the given columns."""
        table = tables[name]
        rows = table.iloc[rng.integers(0, len(table), n)].reset_index(drop=True)
        return rows.assign(**{KNOWN_AT[name]: times(n)}, **columns)

    past = removed(tables, until)
    out = dict(past)
    n = 40
    users = new_rows("users", n, user_id=[f"future-u{i}" for i in range(n)], city="Atlantis")
    circles = new_rows(
        "circles",
        5,
        circle_id=[f"future-c{i}" for i in range(5)],
        topic="future-topic",
        creator_id=None,
    )
    out["users"] = pd.concat([past["users"], users], ignore_index=True)
    out["circles"] = pd.concat([past["circles"], circles], ignore_index=True)
    user_ids = out["users"]["user_id"].to_numpy()
    circle_ids = out["circles"]["circle_id"].to_numpy()

    def some(ids: np.ndarray, k: int) -> np.ndarray:
        return ids[rng.integers(0, len(ids), k)]

    posts = new_rows(
        "posts",
        80,
        post_id=[f"future-p{i}" for i in range(80)],
        circle_id=some(circle_ids, 80),
        author_id=some(user_ids, 80),
        deleted_at=pd.NaT,
    )
    out["posts"] = pd.concat([past["posts"], posts], ignore_index=True)
    post_ids = out["posts"]["post_id"].to_numpy()
    merchants = tables["merchants"]["merchant_id"].to_numpy()
    k = 3_000
    future = {
        "payments": new_rows(
            "payments",
            k,
            payment_id=[f"future-pay{i}" for i in range(k)],
            user_id=some(user_ids, k),
            merchant_id=some(merchants, k),
            amount=rng.uniform(1, 500, k),
        ),
        "transfers": new_rows(
            "transfers",
            300,
            transfer_id=[f"future-t{i}" for i in range(300)],
            sender_id=some(user_ids, 300),
            receiver_id=some(user_ids, 300),
        ),
        "credit_scores": new_rows(
            "credit_scores", 300, user_id=some(user_ids, 300), score=rng.integers(350, 951, 300)
        ),
        "social_edges": new_rows(
            "social_edges",
            300,
            user_id=[f"future-u{i % n}" for i in range(300)],
            other_id=some(user_ids, 300),
        ),
        "memberships": new_rows(
            "memberships",
            300,
            user_id=some(user_ids, 300),
            circle_id=some(circle_ids, 300),
            left_at=pd.NaT,
        ),
    }
    if "events" in tables:
        events = new_rows("events", k, event_id=[f"future-e{i}" for i in range(k)])
        feed = (events["surface"] == "feed").to_numpy()
        events["item_id"] = np.where(feed, some(post_ids, k), some(circle_ids, k))
        events["user_id"] = some(user_ids, k)
        events["request_id"] = [f"future-r{i // 5}" for i in range(k)]
        future["events"] = events
    for name, rows in future.items():
        out[name] = pd.concat([past[name], rows], ignore_index=True)
    # earlier rows' later fates: some still active memberships end, some live posts go
    for name, share in (("memberships", 0.5), ("posts", 0.3)):
        column, table = ENDS[name], out[name]
        earlier = (table[KNOWN_AT[name]] < until).to_numpy()
        ends = earlier & table[column].isna().to_numpy() & (rng.random(len(table)) < share)
        ended = table[column].copy()
        ended[ends] = times(int(ends.sum())).to_numpy()
        out[name] = table.assign(**{column: ended})
    return out


def trained(tables: dict[str, pd.DataFrame], directory: Path, until: pd.Timestamp) -> Any:
    """The bundle trained on `tables` (read through the contract) and its data."""
    directory.mkdir(parents=True)
    for name, table in tables.items():
        table.to_parquet(directory / f"{name}.parquet", index=False)
    data = load_contract(directory, quarantine_dir=directory / "_quarantine")
    return train(data, ServingCandidates(), CONFIG, until), data


def world_tables(world: SimResult, kind: str) -> dict[str, pd.DataFrame]:
    """The world's tables; for "memberships", without the logs (suggestions are then
    learned from memberships alone)."""
    tables = read_world(world.out_dir)
    if kind == "memberships":
        del tables["events"]
    return tables


@pytest.fixture(scope="module")
def originals(
    world: SimResult, until: pd.Timestamp, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The bundle and data of each kind of world, trained once when first asked for."""

    class Lazy(dict[str, Any]):
        def __missing__(self, kind: str) -> Any:
            where = tmp_path_factory.mktemp("leak") / kind
            self[kind] = trained(world_tables(world, kind), where, until)
            return self[kind]

    return Lazy()


def learned(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest without the run's facts (at any depth: a search's seconds too) and
    the data's vocabulary (every topic and city of the data directory, so that serving
    on it finds the same schema; no feature column comes from either)."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in RUN_FIELDS}
        return value

    out = strip(manifest)
    vocab = out["feature_schema"]["vocab"]
    out["feature_schema"]["vocab"] = {"categories": vocab["categories"]}
    return dict(out)


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two manifests differ, as readable paths."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = sorted(set(a) | set(b))
        return [d for k in keys for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def frames(bundle: Bundle, data: Any, until: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The rows each surface trained and validated on, as `train` builds them."""
    if "events" not in data.tables:
        fit, valid = membership_training_sets(
            data,
            CONFIG.features,
            until,
            CONFIG.seed,
            CONFIG.membership_candidates,
            ServingCandidates(),
        )
        return {"circle_suggestions": pd.concat([fit.frame, valid.frame], ignore_index=True)}
    builder = FeatureBuilder(data, CONFIG.features)
    return {s: build_training_set(builder, s, until).frame for s in bundle.rankers}


@pytest.mark.parametrize(
    ("kind", "future"), [("logs", "removed"), ("logs", "replaced"), ("memberships", "replaced")]
)
def test_the_future_changes_nothing_train_learns(
    world: SimResult,
    until: pd.Timestamp,
    originals: dict[str, Any],
    kind: str,
    future: str,
    tmp_path: Path,
) -> None:
    tables = world_tables(world, kind)
    changed = removed(tables, until) if future == "removed" else replaced(tables, until, 7)
    assert not all(len(changed[n]) == len(tables[n]) for n in tables if n in KNOWN_AT)
    bundle, data = originals[kind]
    other, other_data = trained(changed, tmp_path / future, until)
    surfaces = ["circle_suggestions", "feed"] if kind == "logs" else ["circle_suggestions"]
    assert sorted(bundle.rankers) == surfaces

    # metrics, selection, recall, rows, feature columns, skipped surfaces, ...
    assert differences(learned(other.manifest), learned(bundle.manifest)) == []

    rows = frames(bundle, data, until)
    for surface, frame in frames(other, other_data, until).items():
        pd.testing.assert_frame_equal(frame, rows[surface])
    for surface, rankers in bundle.rankers.items():
        for name, ranker in rankers.items():
            x = rows[surface][ranker.features]
            np.testing.assert_array_equal(
                other.ranker(surface, name).score(x), ranker.score(x), err_msg=name
            )
        als, other_als = bundle.als[surface], other.als[surface]
        np.testing.assert_array_equal(other_als.user_ids, als.user_ids)
        np.testing.assert_array_equal(other_als.item_ids, als.item_ids)
        np.testing.assert_array_equal(other_als.item_factors, als.item_factors)


def test_labels_read_no_action_at_or_after_until() -> None:
    at = pd.Timestamp("2026-03-01 12:00", tz="UTC")
    shown = pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["p1", "p1"], "as_of": [at, at]})
    events = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u2"],
            "item_id": ["p1", "p1", "p1"],
            "surface": "feed",
            "action": ["click", "click", "like"],
            "ts": [at + pd.Timedelta(minutes=1), at + pd.Timedelta(minutes=5), at],
        }
    )
    cut = at + pd.Timedelta(minutes=5)
    everything = label_impressions(shown, events, "feed")
    before = label_impressions(shown, events, "feed", until=cut)
    assert everything[["click", "like"]].to_numpy().tolist() == [[1, 0], [1, 1]]
    # u2's click is at the cut-off: not read; the like at the impression's time is
    assert before[["click", "like"]].to_numpy().tolist() == [[1, 0], [0, 1]]


def test_the_cut_off_separates_a_click_from_its_impression(
    world: SimResult, until: pd.Timestamp
) -> None:
    """The scrambling test above has a label to leak."""
    data = load_contract(world.out_dir)
    shown = logged_impressions(data, "feed")
    shown = shown[shown["as_of"] < until].reset_index(drop=True)
    everything = label_impressions(shown, data["events"], "feed")
    before = label_impressions(shown, data["events"], "feed", until=until)
    assert everything["click"].sum() > before["click"].sum()


def test_a_surface_trains_only_on_impressions_logged_before_the_cut_off(
    small_world: SimResult,
) -> None:
    data = load_contract(small_world.out_dir)
    shown = data["events"][data["events"]["action"] == "impression"]
    first = shown.groupby("surface")["ts"].min()
    later, earlier = first.idxmax(), first.idxmin()
    assert surfaces_of(data, first.max()) == [earlier]
    assert sorted(surfaces_of(data, first.max() + pd.Timedelta(seconds=1))) == sorted(
        [earlier, later]
    )
