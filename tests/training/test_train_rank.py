"""The whole train -> rank path on a tiny simulated world: bundle layout, loading,
schema-mismatch refusal, the credit gate and the feed surface."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from circlerank.cli.main import main
from circlerank.errors import BundleMismatchError, ModelError
from evaluation.simulator import SimConfig, SimResult, simulate
from features.contract import load_contract
from ranking.components import RankContext
from ranking.replay import Replayer
from ranking.scorers import ValueParams, ValueScorer
from training.bundle import load_bundle
from training.dataset import PRIMARY
from training.heads import HeadsRanker
from training.ranker import inputs


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> SimResult:
    """Big enough that both surfaces have the positives to train on."""
    out = tmp_path_factory.mktemp("worlds") / "train"
    return simulate(SimConfig(users=800, days=28, seed=5), out_dir=out)


@pytest.fixture(scope="module")
def trained(world: SimResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("models")
    code = main(
        [
            "-q",
            "train",
            "--data",
            str(world.out_dir),
            "--out",
            str(models),
            "--until",
            world.split_time.isoformat(),
        ]
    )
    assert code == 0
    return models


def rank(
    world: SimResult, models: Path, tmp: Path, surface: str, users: list[str], *extra: str
) -> pd.DataFrame:
    users_file = tmp / "users.txt"
    users_file.write_text("\n".join(users) + "\n")
    out = tmp / f"{surface}.parquet"
    code = main(
        [
            "-q",
            "rank",
            "--data",
            str(world.out_dir),
            "--models",
            str(models),
            "--surface",
            surface,
            "--at",
            world.split_time.isoformat(),
            "--users",
            str(users_file),
            "--out",
            str(out),
            *extra,
        ]
    )
    assert code == 0
    return pd.read_parquet(out)


def test_bundle_has_manifest_models_and_current(trained: Path) -> None:
    current = trained / "current"
    assert current.is_symlink()
    manifest = json.loads((current / "manifest.json").read_text())
    assert manifest["version"] == current.resolve().name
    assert set(manifest["rankers"]["feed"]) == {"heads", "lambdarank", "logistic"}
    assert (current / "feed" / "heads" / "click.txt").is_file()
    assert (current / "feed" / "als" / "items.faiss").is_file()
    assert manifest["libraries"]["lightgbm"] != "absent"
    assert 0.5 < manifest["metrics"]["feed"]["heads"]["click_auc"] <= 1.0
    assert set(manifest["recall"]["feed"]) >= {"circle_posts", "als_posts", "trending_posts"}
    assert pd.Timestamp(manifest["rows"]["feed"]["to"]) < pd.Timestamp(manifest["until"])


def test_feed_ranks_only_fresh_posts_of_the_users_circles(
    world: SimResult, trained: Path, tmp_path: Path
) -> None:
    truth = pd.read_parquet(world.truth_dir / "feed_truth.parquet")
    users = sorted(truth["user_id"].unique())
    ranked = rank(world, trained, tmp_path, "feed", [*users, "nobody-knows-me"], "--limit", "7")
    assert list(ranked.columns) == ["user_id", "item_id", "rank", "score", "reasons", "explanation"]
    assert ranked["explanation"].str.len().gt(0).all()
    known = ranked[ranked["user_id"] != "nobody-knows-me"]
    # the simulator's truth lists exactly the feed candidates of its users at the split
    allowed = set(zip(truth["user_id"], truth["post_id"], strict=True))
    assert set(zip(known["user_id"], known["item_id"], strict=True)) <= allowed
    per_user = known.groupby("user_id")
    assert (per_user["rank"].max() < 7).all()
    assert all(list(g["rank"]) == list(range(len(g))) for _, g in per_user)
    assert all(g["score"].is_monotonic_decreasing for _, g in per_user)
    # an unknown user is not an error: the cold-start fallback serves a full page
    assert (ranked["user_id"] == "nobody-knows-me").sum() == 7


def test_suggestions_respect_the_credit_gate_and_skip_joined_circles(
    world: SimResult, trained: Path, tmp_path: Path
) -> None:
    at = world.split_time
    users = sorted(pd.read_parquet(world.out_dir / "users.parquet")["user_id"])
    ranked = rank(world, trained, tmp_path, "circles", [*users, "nobody-knows-me"], "--limit", "5")
    # a user with no history, no score and no friends: a full page of open circles
    circles = pd.read_parquet(world.out_dir / "circles.parquet")
    open_circles = circles[circles["min_credit_score"].isna() & (circles["created_at"] < at)]
    cold = ranked[ranked["user_id"] == "nobody-knows-me"]
    assert len(cold) == min(5, len(open_circles)) > 0
    assert set(cold["item_id"]) <= set(open_circles["circle_id"])
    ranked = ranked[ranked["user_id"] != "nobody-knows-me"]
    credit = pd.read_parquet(world.out_dir / "credit_scores.parquet")
    in_force = credit[credit["ts"] < at].sort_values("ts").groupby("user_id")["score"].last()
    circles = pd.read_parquet(world.out_dir / "circles.parquet").set_index("circle_id")
    gate = ranked["item_id"].map(circles["min_credit_score"]).astype("float64")
    score = ranked["user_id"].map(in_force).astype("float64")
    ineligible = gate.notna() & ~(score >= gate)
    assert len(ranked) > 0 and int(ineligible.sum()) == 0
    assert gate.notna().any(), "the world should have gated circles the gate let through"
    m = pd.read_parquet(world.out_dir / "memberships.parquet")
    active = m[(m["joined_at"] < at) & ~(m["left_at"] < at)]
    joined = set(zip(active["user_id"], active["circle_id"], strict=True))
    assert not joined & set(zip(ranked["user_id"], ranked["item_id"], strict=True))


def test_a_bundle_for_another_schema_is_refused(
    world: SimResult, trained: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    shutil.copytree(trained / "current", other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["feature_schema"]["vocab"]["categories"] = ["only_this_category"]
    (other / "manifest.json").write_text(json.dumps(manifest))
    data = load_contract(world.out_dir, quarantine_dir=tmp_path / "q")
    with pytest.raises(BundleMismatchError, match="feature schema"):
        Replayer(data, load_bundle(other), world.split_time)


def test_a_damaged_bundle_is_a_clear_error(trained: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(trained / "current", broken)
    (broken / "feed" / "heads" / "click.txt").unlink()
    with pytest.raises(ModelError, match="cannot load"):
        load_bundle(broken)
    with pytest.raises(ModelError, match="no model bundle"):
        load_bundle(tmp_path / "nothing-here")


def test_same_data_and_params_give_the_same_version(trained: Path) -> None:
    manifest = json.loads((trained / "current" / "manifest.json").read_text())
    assert manifest["version"].startswith(pd.Timestamp(manifest["until"]).strftime("%Y%m%dT%H%M%S"))
    assert np.isfinite(manifest["seconds"])


def test_blend_scores_are_the_weighted_log_odds_of_head_and_logistic(
    world: SimResult, trained: Path
) -> None:
    from ranking.scorers import BlendParams, BlendScorer

    data = load_contract(world.out_dir, quarantine_dir=world.out_dir.parent / "q_blend")
    bundle = load_bundle(trained)
    replayer = Replayer(data, bundle, world.split_time)
    try:
        ctx = replayer.context("circle_suggestions")
        users = data["users"]["user_id"].to_numpy(dtype=object)[:20]
        circles = data["circles"]["circle_id"].to_numpy(dtype=object)
        rows = pd.DataFrame(
            {"user_id": np.repeat(users, len(circles)), "item_id": np.tile(circles, len(users))}
        )
        features = replayer.features.for_requests(
            rows.assign(as_of=world.split_time), "circle_suggestions"
        )
        at_top = features.assign(position=0.0)  # as every model scorer serves
        p = bundle.ranker("circle_suggestions", "heads").heads(at_top)
        head_logit = np.log(p["join"] / (1 - p["join"])).to_numpy()
        logistic = bundle.ranker("circle_suggestions", "logistic").score(at_top)
        with np.errstate(divide="ignore"):
            logistic_logit = np.log(logistic / (1 - logistic))
        # inverting a probability that rounded to 0 or 1 gives no log-odds to compare
        fine = np.isfinite(head_logit) & np.isfinite(logistic_logit)
        assert fine.mean() > 0.9
        blended = BlendScorer(BlendParams(heads=0.25, logistic=0.75)).score(ctx, rows, features)
        np.testing.assert_allclose(
            blended[fine], (0.25 * head_logit + 0.75 * logistic_logit)[fine], atol=1e-6
        )
        assert np.isfinite(blended).all()
        only_head = BlendScorer(BlendParams(heads=1.0, logistic=0.0)).score(ctx, rows, features)
        np.testing.assert_allclose(only_head[fine], head_logit[fine], atol=1e-6)
        # the ALS term: the dot product standardized within each user's candidates
        only_als = BlendScorer(BlendParams(heads=0.0, logistic=0.0, als=2.0)).score(
            ctx, rows, features
        )
        dot = bundle.als["circle_suggestions"].score(rows["user_id"], rows["item_id"])
        expected = (
            pd.Series(dot)
            .groupby(rows["user_id"].to_numpy())
            .transform(lambda s: (s - s.mean()) / s.std(ddof=0))
        )
        known = np.isfinite(dot)
        np.testing.assert_allclose(only_als[known], 2.0 * expected.to_numpy()[known], atol=1e-9)
        assert (only_als[~known] == 0).all()
    finally:
        replayer.close()
    with pytest.raises(ValueError, match="positive weight"):
        BlendParams(heads=0.0, logistic=0.0)


@dataclass
class Scoring:
    """40 users x 60 posts, their feature rows and the feed heads' predictions."""

    ctx: RankContext
    candidates: pd.DataFrame
    features: pd.DataFrame
    heads: HeadsRanker
    x: np.ndarray
    exact: np.ndarray  # every head on every candidate

    def check_cascade(self, scores: np.ndarray, first: np.ndarray, shortlist: int) -> None:
        """Each user's `shortlist` highest `first` candidates score their exact value,
        the rest below them, in `first` order and untied."""
        frame = self.candidates.assign(short=scores, exact=self.exact, first=first)
        for _, got in frame.groupby("user_id"):
            kept = got.nlargest(shortlist, "first").index
            off = got.index.difference(kept)
            np.testing.assert_allclose(got.loc[kept, "short"], got.loc[kept, "exact"], rtol=1e-12)
            assert got.loc[off, "short"].max() < got.loc[kept, "short"].min()
            ordered = got.loc[off].sort_values("short", ascending=False)["first"].to_numpy()
            assert (np.diff(ordered) <= 0).all()  # the rest in first-stage order
            assert got.loc[off, "short"].is_unique  # no ties for later sorts to break by id


@pytest.fixture(scope="module")
def scoring(
    world: SimResult, trained: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scoring]:
    data = load_contract(world.out_dir, quarantine_dir=tmp_path_factory.mktemp("q"))
    replayer = Replayer(data, load_bundle(trained), world.split_time)
    ctx = replayer.context("feed")
    users = pd.read_parquet(world.out_dir / "users.parquet")["user_id"].tolist()[:40]
    posts = ctx.catalog.item_index.table("feed").index.tolist()[:60]
    candidates = pd.DataFrame(
        {
            "user_id": pd.Series(np.repeat(users, len(posts)), dtype=object),
            "item_id": pd.Series(np.tile(posts, len(users)), dtype=object),
        }
    )
    rows = candidates.assign(as_of=world.split_time)
    features = replayer.features.for_requests(rows, "feed")
    heads = load_bundle(trained).ranker("feed", "heads")
    assert isinstance(heads, HeadsRanker)
    x = inputs(features.assign(position=0.0), heads.features)
    yield Scoring(ctx, candidates, features, heads, x, heads.value(x))
    replayer.close()


def test_the_value_cascade_is_exact_on_its_shortlist_and_orders_the_rest_below(
    scoring: Scoring,
) -> None:
    ctx, candidates, features = scoring.ctx, scoring.candidates, scoring.features
    everything = ValueScorer(ValueParams(shortlist=None)).score(ctx, candidates, features)
    np.testing.assert_allclose(everything, scoring.exact, rtol=1e-12)
    short = ValueScorer(ValueParams(shortlist=7)).score(ctx, candidates, features)
    scoring.check_cascade(short, scoring.heads.predict(scoring.x, PRIMARY["feed"]), 7)
    # a user's scores do not depend on who else is in the batch: the API ranks one user,
    # offline replay hundreds, and both must give the same list
    for user in candidates["user_id"].unique()[:8]:
        mine = (candidates["user_id"] == user).to_numpy()
        alone = ValueScorer(ValueParams(shortlist=7)).score(
            ctx, candidates[mine].reset_index(drop=True), features[mine].reset_index(drop=True)
        )
        np.testing.assert_allclose(alone, short[mine], rtol=1e-12)


def test_the_value_cascade_can_shortlist_by_the_primary_heads_first_trees(
    scoring: Scoring,
) -> None:
    heads, x, click = scoring.heads, scoring.x, PRIMARY["feed"]
    rounds = heads.rounds(click)
    trees = rounds // 3
    # compiled when the bundle's trees are: the same numbers as LightGBM's
    assert heads.first_trees(click, trees).kind == heads.predictors[click].kind == "lleaves"
    rough = heads.boosters[click].predict(x, num_iteration=trees)
    np.testing.assert_allclose(heads.predict(x, click, trees), rough, rtol=1e-9, atol=1e-12)
    assert np.abs(rough - heads.predict(x, click)).max() > 1e-3  # a different estimate
    # as many trees as the head has, or more: the head itself
    for enough in (rounds, rounds + 10):
        np.testing.assert_array_equal(heads.predict(x, click, enough), heads.predict(x, click))

    params = ValueParams(shortlist=7, prefilter_trees=trees)
    short = ValueScorer(params).score(scoring.ctx, scoring.candidates, scoring.features)
    scoring.check_cascade(short, rough, 7)


def test_als_posts_are_each_users_best_own_posts_whatever_the_batch(
    world: SimResult, trained: Path, tmp_path: Path
) -> None:
    from ranking.sources import ALSPosts, TopK

    data = load_contract(world.out_dir, quarantine_dir=tmp_path / "q")
    replayer = Replayer(data, load_bundle(trained), world.split_time)
    try:
        ctx = replayer.context("feed")
        source = ALSPosts(TopK(k=5))
        users = data["users"]["user_id"].to_numpy(dtype=object)[:60]
        together = source.fetch(ctx, users)
        als = ctx.bundle.als["feed"]  # type: ignore[union-attr]
        checked = 0
        for user in users[:15]:
            alone = source.fetch(ctx, np.array([user], dtype=object))
            mine = together[together["user_id"] == user]
            assert alone["item_id"].tolist() == mine["item_id"].tolist()
            # the oracle: every own in-network post scored, the five best kept
            own = ctx.catalog.feed.in_network(np.array([user], dtype=object))
            score = pd.Series(als.score(own["user_id"], own["item_id"]), index=own["item_id"])
            best = score.dropna().sort_values(ascending=False).head(5)
            np.testing.assert_allclose(score[alone["item_id"]].to_numpy(), best.to_numpy())
            checked += len(alone) > 0
        assert checked >= 5
    finally:
        replayer.close()


@pytest.mark.parametrize("surface", ["feed", "circle_suggestions"])
def test_ranking_in_forked_workers_equals_ranking_here(
    world: SimResult, trained: Path, tmp_path: Path, surface: str
) -> None:
    from ranking.forked import can_fork

    if not can_fork():
        pytest.skip("this platform does not fork")
    data = load_contract(world.out_dir, quarantine_dir=tmp_path / "q")
    users = data["users"]["user_id"].to_numpy(dtype=object)
    pages = {}
    for workers in (1, 2):
        replayer = Replayer(
            data,
            load_bundle(trained),
            world.split_time,
            tmp_path / "snap",
            workers=workers,
            reuse_snapshot=workers > 1,
        )
        try:
            got = replayer.rank(surface, users, 10)
        finally:
            replayer.close()
        pages[workers] = got
    assert len(users) > 300  # more than the first batch: the rest ran in two workers
    pd.testing.assert_frame_equal(pages[1].ranked, pages[2].ranked)
    assert pages[1].candidates == pages[2].candidates
    assert pages[1].removed == pages[2].removed


@pytest.mark.parametrize("surface", ["feed", "circle_suggestions"])
def test_every_shipped_strategy_ranks_a_user_alike_alone_or_in_a_batch(
    world: SimResult, trained: Path, tmp_path: Path, surface: str
) -> None:
    """The API ranks one user per request and offline replay hundreds at once: the same
    user must get the same list, scores included, whoever else is in the batch."""
    from ranking.pipeline import Pipeline

    data = load_contract(world.out_dir, quarantine_dir=tmp_path / "q")
    replayer = Replayer(data, load_bundle(trained), world.split_time)
    try:
        ctx = replayer.context(surface)
        users = data["users"]["user_id"].to_numpy(dtype=object)[:25]
        checked = 0
        for name, strategy in replayer.strategies.strategies.items():
            if strategy.surface != surface:
                continue
            pipeline = Pipeline(strategy)
            together = pipeline.run(ctx, users, 60).ranked
            alone = [pipeline.run(ctx, np.array([u], dtype=object), 60).ranked for u in users]
            pd.testing.assert_frame_equal(
                together, pd.concat(alone, ignore_index=True), obj=f"{name} on {surface}"
            )
            checked += len(together) > 0
        assert checked >= 4
    finally:
        replayer.close()
