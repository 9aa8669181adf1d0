"""The simulator writes a deterministic world in the contract, consistent truth, and a
generative story that later ranking tests can rely on."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from circlerank.errors import ConfigError
from evaluation.simulator import EpsilonGreedySlates, Policies, SimConfig, SimResult, simulate
from features.contract.schema import FEED_ACTIONS, SUGGESTION_ACTIONS, TABLE_BY_NAME, TABLES

MAIN = SimConfig(users=400, days=14, seed=0)
TINY = SimConfig(users=60, days=7, seed=0)
DTYPES = {"id": "str", "str": "str", "ts": "datetime64[us, UTC]", "float": "float64"}


@dataclass
class World:
    result: SimResult
    tables: dict[str, pd.DataFrame]

    def truth(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.result.truth_dir / f"{name}.parquet")

    @property
    def split(self) -> pd.Timestamp:
        return self.result.split_time


def _load(result: SimResult) -> World:
    tables = {t.name: pd.read_parquet(result.out_dir / f"{t.name}.parquet") for t in TABLES}
    return World(result, tables)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return _load(simulate(MAIN, tmp_path_factory.mktemp("main") / "world"))


def _hashes(result: SimResult) -> dict[str, str]:
    out = {}
    for d in (result.out_dir, result.truth_dir):
        for f in sorted(d.iterdir()):
            out[f"{d.name}/{f.name}"] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def _active(ms: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    return ms[(ms.joined_at <= t) & (ms.left_at.isna() | (ms.left_at > t))]


def _score_at(credit: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """Credit score in force at each row's ts (latest credit row with ts <= row ts)."""
    left = rows.reset_index().sort_values("ts")
    right = credit.sort_values("ts").rename(columns={"ts": "credit_ts"})
    merged = pd.merge_asof(left, right, left_on="ts", right_on="credit_ts", by="user_id")
    return merged.set_index("index")["score"].reindex(rows.index)


# ---------------------------------------------------------------- determinism


def test_same_seed_writes_identical_bytes(world: World, tmp_path: Path) -> None:
    again = simulate(MAIN, tmp_path / "world")
    assert _hashes(again) == _hashes(world.result)
    assert len(_hashes(again)) >= len(TABLES) + 3


def test_different_seed_writes_different_world(tmp_path: Path) -> None:
    a = _hashes(simulate(TINY, tmp_path / "a"))
    b = _hashes(simulate(SimConfig(users=60, days=7, seed=1), tmp_path / "b"))
    for name in ("users", "payments", "events", "posts"):
        assert a[f"a/{name}.parquet"] != b[f"b/{name}.parquet"], name


# ---------------------------------------------------------------- contract shape


def test_every_table_has_the_contract_columns_and_dtypes(world: World) -> None:
    for spec in TABLES:
        df = world.tables[spec.name]
        assert list(df.columns) == [c.name for c in spec.columns], spec.name
        assert len(df) > 0, spec.name
        for col in spec.columns:
            dtype = str(df[col.name].dtype)
            if col.kind == "int":
                assert dtype in ("int64", "Int64"), (spec.name, col.name, dtype)
            elif col.kind == "bool":
                assert dtype == "bool", (spec.name, col.name, dtype)
            else:
                assert dtype == DTYPES[col.kind], (spec.name, col.name, dtype)
            if col.required:
                assert df[col.name].notna().all(), (spec.name, col.name)


def test_primary_keys_are_unique(world: World) -> None:
    for spec in TABLES:
        df = world.tables[spec.name]
        assert not df.duplicated(list(spec.primary_key)).any(), spec.name


def test_foreign_keys_resolve(world: World) -> None:
    for spec in TABLES:
        df = world.tables[spec.name]
        for fk in spec.foreign_keys:
            rows = df if fk.when is None else df[df[fk.when[0]] == fk.when[1]]
            values = rows[fk.column].dropna()
            parent = world.tables[fk.parent]
            key = parent[TABLE_BY_NAME[fk.parent].primary_key[0]]
            assert values.isin(set(key)).all(), (spec.name, fk.column)


def test_values_obey_the_row_rules(world: World) -> None:
    t = world.tables
    assert (t["payments"].amount > 0).all() and (t["transfers"].amount > 0).all()
    assert t["credit_scores"].score.between(350, 950).all()
    assert t["posts"].media_type.isin({"text", "image", "video"}).all()
    assert t["social_edges"].kind.isin({"friend", "follow"}).all()
    ev = t["events"]
    assert ((ev.propensity > 0) & (ev.propensity <= 1)).all()
    assert (ev.position >= 0).all()
    assert ev.action[ev.surface == "feed"].isin(FEED_ACTIONS).all()
    assert ev.action[ev.surface == "circle_suggestions"].isin(SUGGESTION_ACTIONS).all()
    assert ev.surface.isin({"feed", "circle_suggestions"}).all()


def test_no_timestamp_after_the_split(world: World) -> None:
    for spec in TABLES:
        for col in spec.timestamp_columns:
            values = world.tables[spec.name][col].dropna()
            assert (values <= world.split).all(), (spec.name, col)
    assert world.split == pd.Timestamp(MAIN.start) + pd.Timedelta(days=MAIN.days)


def test_meta_describes_the_run(world: World) -> None:
    meta = json.loads((world.result.truth_dir / "meta.json").read_text())
    assert pd.Timestamp(meta["split_time"]) == world.split
    assert meta["seed"] == MAIN.seed and meta["config"]["users"] == MAIN.users
    assert meta["row_counts"] == {n: len(df) for n, df in world.tables.items()}
    assert meta["row_counts"] == world.result.row_counts
    assert meta["truth_row_counts"]["feed_truth"] == len(world.truth("feed_truth"))


# ---------------------------------------------------------------- logging consistency


def test_suggestions_show_only_eligible_non_member_circles(world: World) -> None:
    t = world.tables
    imp = t["events"][
        (t["events"].surface == "circle_suggestions") & (t["events"].action == "impression")
    ]
    assert len(imp) > 100
    gate = t["circles"].set_index("circle_id").min_credit_score.reindex(imp.item_id).to_numpy()
    score = _score_at(t["credit_scores"], imp[["user_id", "ts"]]).to_numpy()
    gated = ~pd.isna(gate)
    assert gated.any()
    assert (score[gated] >= gate[gated].astype(float)).all()
    pairs = imp.merge(
        t["memberships"], left_on=["user_id", "item_id"], right_on=["user_id", "circle_id"]
    )
    member = (pairs.joined_at <= pairs.ts) & (pairs.left_at.isna() | (pairs.left_at > pairs.ts))
    assert not member.any()


def test_feed_shows_fresh_posts_of_the_users_circles(world: World) -> None:
    t = world.tables
    imp = t["events"][(t["events"].surface == "feed") & (t["events"].action == "impression")]
    posts = t["posts"].set_index("post_id").reindex(imp.item_id)
    fresh = pd.Timedelta(days=MAIN.freshness_days)
    created = posts.created_at.to_numpy()
    assert (created < imp.ts.to_numpy()).all() and (created >= (imp.ts - fresh).to_numpy()).all()
    deleted = posts.deleted_at.to_numpy()
    assert (pd.isna(deleted) | (deleted > imp.ts.to_numpy())).all()
    rows = imp.assign(circle_id=posts.circle_id.to_numpy())
    pairs = rows.reset_index().merge(t["memberships"], on=["user_id", "circle_id"])
    ok = (pairs.joined_at <= pairs.ts) & (pairs.left_at.isna() | (pairs.left_at > pairs.ts))
    assert set(pairs.loc[ok, "index"]) == set(rows.index)


def test_engagements_follow_their_impression(world: World) -> None:
    ev = world.tables["events"]
    keys = ["request_id", "item_id", "position", "propensity", "user_id", "arm"]
    imp = ev[ev.action == "impression"][[*keys, "ts"]]
    eng = ev[ev.action != "impression"].merge(imp, on=keys, suffixes=("", "_imp"))
    assert len(eng) == int((ev.action != "impression").sum())
    assert (eng.ts > eng.ts_imp).all()
    assert not imp.duplicated(["request_id", "position"]).any()


def test_joins_become_memberships(world: World) -> None:
    ev, ms = world.tables["events"], world.tables["memberships"]
    joins = ev[ev.action == "join"]
    got = joins.merge(
        ms, left_on=["user_id", "item_id", "ts"], right_on=["user_id", "circle_id", "joined_at"]
    )
    assert len(got) == len(joins)
    ms = ms.sort_values(["user_id", "circle_id", "joined_at"])
    prev_left = ms.groupby(["user_id", "circle_id"]).left_at.shift()
    repeat = ms.duplicated(["user_id", "circle_id"])
    assert (prev_left[repeat].notna() & (prev_left[repeat] <= ms.joined_at[repeat])).all()


def test_member_posts_are_written_by_members(world: World) -> None:
    t = world.tables
    ugc = t["posts"][~t["posts"].is_official]
    pairs = ugc.reset_index().merge(
        t["memberships"], left_on=["author_id", "circle_id"], right_on=["user_id", "circle_id"]
    )
    ok = (pairs.joined_at <= pairs.created_at) & (
        pairs.left_at.isna() | (pairs.left_at > pairs.created_at)
    )
    assert set(pairs.loc[ok, "index"]) == set(ugc.index)
    official = t["posts"][t["posts"].is_official]
    assert official.author_id.str.startswith("official_").all()


# ---------------------------------------------------------------- truth


def test_feed_truth_is_exactly_the_candidate_set(world: World) -> None:
    t, truth = world.tables, world.truth("feed_truth")
    assert list(truth.columns) == [
        "user_id",
        "post_id",
        "p_click",
        "p_like",
        "p_comment",
        "p_share",
        "p_hide",
        "p_report",
        "p_engage",
    ]
    users = truth.user_id.unique()
    active = _active(t["memberships"], world.split)
    posts = t["posts"]
    fresh = posts[
        (posts.created_at >= world.split - pd.Timedelta(days=MAIN.freshness_days))
        & (posts.created_at < world.split)
        & posts.deleted_at.isna()
    ]
    cand = active[active.user_id.isin(users)].merge(fresh, on="circle_id")
    cand = cand[cand.author_id != cand.user_id]
    expected = set(zip(cand.user_id, cand.post_id, strict=True))
    assert set(zip(truth.user_id, truth.post_id, strict=True)) == expected
    assert not truth.duplicated(["user_id", "post_id"]).any()
    probs = truth.drop(columns=["user_id", "post_id"])
    assert ((probs > 0) & (probs < 1)).all().all()
    assert (truth.p_like <= truth.p_click).all() and (truth.p_engage == truth.p_click).all()
    assert (truth.p_hide + truth.p_click <= 1).all()


def test_join_truth_is_eligible_non_member_circles(world: World) -> None:
    t, truth = world.tables, world.truth("join_truth")
    feed_users = set(world.truth("feed_truth").user_id)
    users = truth.user_id.unique()
    assert set(users) <= set(_active(t["memberships"], world.split).user_id)
    assert feed_users <= set(users)
    circles = t["circles"][t["circles"].created_at < world.split]
    grid = pd.MultiIndex.from_product([users, circles.circle_id], names=["user_id", "circle_id"])
    grid = grid.to_frame(index=False).merge(circles[["circle_id", "min_credit_score"]])
    credit = t["credit_scores"][t["credit_scores"].ts <= world.split]
    latest = credit.sort_values("ts").groupby("user_id").score.last()
    grid["score"] = latest.reindex(grid.user_id).to_numpy()
    ok = grid.min_credit_score.isna() | (grid.score >= grid.min_credit_score.astype(float))
    active = _active(t["memberships"], world.split)
    member = set(zip(active.user_id, active.circle_id, strict=True))
    expected = {
        (u, c)
        for u, c, k in zip(grid.user_id, grid.circle_id, ok, strict=True)
        if k and (u, c) not in member
    }
    assert set(zip(truth.user_id, truth.circle_id, strict=True)) == expected
    assert ((truth.p_join > 0) & (truth.p_join < 1)).all()


# ---------------------------------------------------------------- the story


def test_overseas_interest_shows_in_spending_abroad(world: World) -> None:
    latent = world.truth("users_latent").set_index("user_id")
    pay = world.tables["payments"]
    abroad = (pay.country != "CN").groupby(pay.user_id).mean()
    interest = latent.interest_overseas_life.reindex(abroad.index)
    high, low = abroad[interest > 0.2], abroad[interest < 0.02]
    assert len(high) >= 10 and len(low) >= 50
    assert high.mean() > 4 * low.mean() and high.mean() - low.mean() > 0.05


def test_logged_clicks_follow_the_true_click_probability(world: World) -> None:
    ev, lat = world.tables["events"], world.truth("events_latent")
    imp = ev[(ev.surface == "feed") & (ev.action == "impression")].merge(lat, on="event_id")
    clicks = ev[ev.action == "click"][["request_id", "item_id"]].assign(clicked=True)
    imp = imp.merge(clicks, on=["request_id", "item_id"], how="left")
    imp["clicked"] = imp.clicked.fillna(False).astype(bool)
    assert imp[~imp.examined].clicked.sum() == 0
    seen = imp[imp.examined]
    high = seen.p_true > seen.p_true.median()
    assert seen[high].clicked.mean() > 2 * seen[~high].clicked.mean()
    assert abs(seen.clicked.mean() - seen.p_true.mean()) < 0.03
    ctr = imp.clicked.mean()
    assert 0.01 < ctr < 0.2


def test_deterministic_slate_share_matches_one_minus_epsilon(world: World) -> None:
    ev = world.tables["events"]
    imp = ev[ev.action == "impression"]
    eps = MAIN.explore_epsilon
    # an item sits in its heuristic slot exactly when its propensity exceeds 1 - eps, and
    # either propensity form gives away the number of candidates N
    on = imp.propensity > 1 - eps
    n_cand = np.round(eps / np.where(on, imp.propensity - (1 - eps), imp.propensity))
    per_req = pd.DataFrame({"req": imp.request_id, "on": on, "n": n_cand})
    g = per_req.groupby("req").agg(det=("on", "all"), n=("n", "first"), m=("n", "size"))
    assert (per_req.groupby("req").n.nunique() == 1).all()
    assert (g.m <= g.n).all() and len(g) > 500
    # an explored slate can match the heuristic one by chance: 1 / (N (N-1) ... (N-m+1))
    chance = np.array(
        [1.0 / np.prod(np.arange(n - m + 1, n + 1)) for n, m in zip(g.n, g.m, strict=True)]
    )
    p_det = (1 - eps) + eps * chance
    se = np.sqrt(np.sum(p_det * (1 - p_det))) / len(g)
    assert abs(g.det.mean() - p_det.mean()) < 4 * se + 0.005


def test_credit_is_not_interest(world: World) -> None:
    latent = world.truth("users_latent").set_index("user_id")
    people = latent[~latent.is_platform]
    topics = [c for c in people.columns if c.startswith("interest_")]
    corr = people[topics].corrwith(people.credit_latent).abs()
    assert corr.max() < 0.3


# ---------------------------------------------------------------- policy and config


def test_logged_propensities_are_the_exact_slot_marginals() -> None:
    policy = EpsilonGreedySlates(0.3)
    n_req, n_cand, k = 20_000, 6, 3
    group = np.repeat(np.arange(n_req), n_cand)
    scores = np.tile(np.array([0.5, 2.0, 1.0, -1.0, 3.0, 0.0]), n_req)
    slates = policy.select(np.random.default_rng(7), group, scores, k)
    item = slates.row % n_cand
    freq = np.zeros((n_cand, k))
    np.add.at(freq, (item, slates.slot), 1.0 / n_req)
    rank = np.argsort(np.argsort(-scores[:n_cand]))
    expected = 0.3 / n_cand + 0.7 * (rank[:, None] == np.arange(k)[None, :])
    assert np.abs(freq - expected).max() < 0.015
    logged = np.zeros((n_cand, k))
    logged[item, slates.slot] = slates.propensity
    assert np.allclose(logged, expected)


def test_another_logging_policy_plugs_in(tmp_path: Path) -> None:
    uniform = EpsilonGreedySlates(1.0, name="uniform")
    result = simulate(TINY, tmp_path / "w", policies=Policies(feed=uniform, suggestions=uniform))
    ev = pd.read_parquet(result.out_dir / "events.parquet")
    assert set(ev.arm) == {"uniform"}
    imp = ev[ev.action == "impression"]
    # uniform slates: every shown item has propensity 1/N, the same within a request
    assert (imp.groupby("request_id").propensity.nunique() == 1).all()
    assert (1 / imp.propensity).round(9).mod(1).eq(0).all()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"users": 0}, "users"),
        ({"days": 3}, "days"),
        ({"explore_epsilon": 0.0}, "explore_epsilon"),
        ({"feed_slate_size": 0}, "feed_slate_size"),
        ({"start": "not a date"}, "start"),
        ({"truth_users": 0}, "truth_users"),
    ],
)
def test_bad_config_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        SimConfig(**kwargs)  # type: ignore[arg-type]


def test_config_defaults() -> None:
    cfg = SimConfig(users=100, days=7)
    assert cfg.truth_users == 100 and SimConfig().truth_users == 2000
    assert cfg.split_ts - cfg.start_ts == pd.Timedelta(days=7)
    assert cfg.split_ts < pd.Timestamp.now(tz="UTC")
