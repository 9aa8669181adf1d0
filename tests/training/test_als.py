"""ALS retrieval on planted structure, against brute-force oracles over the stored factors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from circlerank.errors import CircleRankError, ConfigError
from evaluation.simulator import SimResult
from training import als as als_module
from training.als import (
    DEFAULT_ACTION_WEIGHTS,
    INDEX,
    ITEM_FACTORS,
    ITEM_IDS,
    PARAMS,
    USER_FACTORS,
    USER_IDS,
    ALSModel,
    ALSParams,
    interactions_from_events,
)
from training.recall import recall_at_k

GROUPS = 3
USERS_PER_GROUP = 20
ITEMS_PER_GROUP = 10
# Rank of the planted structure; a bigger model overfits 60 users x 30 items.
PARAMS_SMALL = ALSParams(factors=3, iterations=10, regularization=1.0, alpha=1.0, seed=3)


def group_of(ids: pd.Series) -> pd.Series:
    return ids.str.split("_").str[0].str[1:]


@pytest.fixture(scope="module")
def blocks() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each user trains on 5 of its group's 10 items plus 1 stray item; the other 5 are held out."""
    rng = np.random.default_rng(7)
    train, held = [], []
    for g in range(GROUPS):
        for u in range(USERS_PER_GROUP):
            user = f"u{g}_{u:02d}"
            order = rng.permutation(ITEMS_PER_GROUP)
            train += [(user, f"i{g}_{i:02d}", float(rng.integers(1, 4))) for i in order[:5]]
            held += [(user, f"i{g}_{i:02d}") for i in order[5:]]
            other = (g + 1 + rng.integers(0, GROUPS - 1)) % GROUPS
            train.append((user, f"i{other}_{rng.integers(0, ITEMS_PER_GROUP):02d}", 1.0))
    return (
        pd.DataFrame(train, columns=["user_id", "item_id", "weight"]),
        pd.DataFrame(held, columns=["user_id", "item_id"]),
    )


@pytest.fixture(scope="module")
def model(blocks: tuple[pd.DataFrame, pd.DataFrame]) -> ALSModel:
    return ALSModel(PARAMS_SMALL).fit(blocks[0])


def brute_force_top(model: ALSModel, user: str, k: int, banned: set[str]) -> list[str]:
    u = list(model.user_ids).index(user)
    scores = model.item_factors.astype(np.float64) @ model.user_factors[u].astype(np.float64)
    order = [model.item_ids[i] for i in np.argsort(-scores, kind="stable")]
    return [i for i in order if i not in banned][:k]


def test_recommends_held_out_items_of_own_group(
    model: ALSModel, blocks: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    train, held = blocks
    users = [*sorted(train["user_id"].unique()), "stranger"]
    rec = model.recommend(users, k=5, exclude=train)

    assert list(rec.columns) == ["user_id", "item_id", "score", "rank"]
    assert "stranger" not in set(rec["user_id"])
    assert rec.groupby("user_id").size().eq(5).all()
    assert rec["user_id"].nunique() == GROUPS * USERS_PER_GROUP
    assert rec.groupby("user_id")["rank"].apply(list).map(lambda r: r == [0, 1, 2, 3, 4]).all()
    assert rec.groupby("user_id")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    assert rec.merge(train, on=["user_id", "item_id"]).empty
    assert (group_of(rec["user_id"]) == group_of(rec["item_id"])).mean() >= 0.9
    assert recall_at_k(rec, held, k=5) >= 0.9


def test_recommend_matches_brute_force_with_exclusions(
    model: ALSModel, blocks: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    train = blocks[0]
    # u0_00 may only see 3 items, so the search must go deeper than k + a few.
    keep = {"i1_03", "i2_07", "i0_09"}
    heavy = pd.DataFrame(
        {"user_id": "u0_00", "item_id": [i for i in model.item_ids if i not in keep]}
    )
    exclude = pd.concat([train[["user_id", "item_id"]], heavy], ignore_index=True)
    users = ["u0_00", "u1_05", "u2_19"]
    rec = model.recommend(users, k=4, exclude=exclude)

    for user in users:
        banned = set(exclude.loc[exclude["user_id"] == user, "item_id"])
        got = rec.loc[rec["user_id"] == user, "item_id"].tolist()
        assert got == brute_force_top(model, user, 4, banned)
    assert set(rec.loc[rec["user_id"] == "u0_00", "item_id"]) == keep


def test_chunked_search_gives_the_same_answer(
    model: ALSModel, blocks: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    users = list(model.user_ids)
    whole = model.recommend(users, k=5, exclude=blocks[0])
    monkeypatch.setattr(als_module, "SEARCH_BUDGET", 50)  # a few users per faiss call
    pd.testing.assert_frame_equal(model.recommend(users, k=5, exclude=blocks[0]), whole)


def test_recommend_allowed_restricts_during_search(model: ALSModel) -> None:
    allowed = ["i2_00", "i2_01", "not-an-item"]  # far from group 0, so never in its top-k
    rec = model.recommend(["u0_03"], k=5, allowed=allowed)
    assert rec["item_id"].tolist() == brute_force_top(
        model, "u0_03", 5, set(model.item_ids) - set(allowed)
    )
    assert len(rec) == 2

    assert model.recommend(["u0_03"], k=5, allowed=[]).empty
    assert model.recommend(
        ["u0_03"],
        k=5,
        allowed=["i2_00"],
        exclude=pd.DataFrame({"user_id": ["u0_03"], "item_id": ["i2_00"]}),
    ).empty


def test_unknown_users_only_gives_typed_empty_frame(model: ALSModel) -> None:
    rec = model.recommend(["nobody", "nobody-else"], k=3)
    assert rec.empty
    assert list(rec.columns) == ["user_id", "item_id", "score", "rank"]
    assert rec["rank"].dtype == np.int64 and rec["score"].dtype == np.float64


def test_score_is_dot_product_of_stored_factors(model: ALSModel) -> None:
    users = ["u0_01", "u2_10", "ghost", "u1_04"]
    items = ["i0_02", "i1_09", "i0_02", "phantom"]
    got = model.score(users, items)

    u_ids, i_ids = list(model.user_ids), list(model.item_ids)
    for n in (0, 1):
        u, i = u_ids.index(users[n]), i_ids.index(items[n])
        oracle = float(
            model.user_factors[u].astype(np.float64) @ model.item_factors[i].astype(np.float64)
        )
        assert got[n] == pytest.approx(oracle, rel=1e-5, abs=1e-6)
    assert np.isnan(got[2]) and np.isnan(got[3])

    rec = model.recommend(["u1_07"], k=3)
    assert model.score(rec["user_id"], rec["item_id"]) == pytest.approx(
        rec["score"].to_numpy(), rel=1e-5, abs=1e-6
    )


def test_rows_of_ids_match_the_stored_order_whatever_the_container(model: ALSModel) -> None:
    users, items = list(model.user_ids), list(model.item_ids)
    asked = [users[7], "ghost", users[0], users[7]]
    expected = [7, -1, 0, 7]
    for container in (list, np.array, pd.Series, pd.Index):
        ids = container(np.array(asked, dtype=object))  # type: ignore[operator]
        assert model.user_rows(ids).tolist() == expected
    assert model.item_rows(pd.Series([items[3], None, 5])).tolist() == [3, -1, -1]
    assert model.user_rows([]).tolist() == []
    with pytest.raises(ConfigError, match="collection of ids"):
        model.user_rows(users[0])


def test_similar_items_excludes_self_and_matches_brute_force(model: ALSModel) -> None:
    sim = model.similar_items(["i0_04", "i2_08", "nope"], k=3)
    assert set(sim["item_id"]) == {"i0_04", "i2_08"}
    ids = list(model.item_ids)
    vectors = model.item_factors.astype(np.float64)
    for item in ("i0_04", "i2_08"):
        scores = vectors @ vectors[ids.index(item)]
        scores[ids.index(item)] = -np.inf
        expected = [ids[j] for j in np.argsort(-scores, kind="stable")[:3]]
        assert sim.loc[sim["item_id"] == item, "similar_id"].tolist() == expected


def test_fit_is_deterministic_and_sums_repeated_pairs(
    blocks: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    train = blocks[0]
    split = train.assign(weight=train["weight"] / 2)
    doubled = pd.concat([split, split], ignore_index=True).sample(frac=1.0, random_state=0)
    a = ALSModel(PARAMS_SMALL).fit(train)
    b = ALSModel(PARAMS_SMALL).fit(doubled)
    np.testing.assert_array_equal(a.user_ids, b.user_ids)
    np.testing.assert_allclose(a.user_factors, b.user_factors, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a.item_factors, b.item_factors, rtol=1e-5, atol=1e-6)
    assert a.user_factors.dtype == np.float32
    assert a.user_factors.shape == (GROUPS * USERS_PER_GROUP, PARAMS_SMALL.factors)
    assert a.item_factors.shape == (GROUPS * ITEMS_PER_GROUP, PARAMS_SMALL.factors)

    again = ALSModel(PARAMS_SMALL).fit(train)
    np.testing.assert_array_equal(a.user_factors, again.user_factors)


def test_fit_rejects_empty_and_bad_weights() -> None:
    empty = pd.DataFrame({"user_id": [], "item_id": [], "weight": []})
    with pytest.raises(CircleRankError, match="got 0 interactions"):
        ALSModel().fit(empty)
    bad = pd.DataFrame({"user_id": ["a", "b"], "item_id": ["x", "y"], "weight": [1.0, 0.0]})
    with pytest.raises(CircleRankError, match="weight"):
        ALSModel().fit(bad)
    with pytest.raises(CircleRankError, match="not fitted"):
        ALSModel().recommend(["a"], k=1)


@pytest.mark.parametrize(
    "bad",
    [
        {"factors": 0},
        {"iterations": 0},
        {"regularization": -0.1},
        {"alpha": 0.0},
        {"alpha": float("nan")},
    ],
)
def test_params_are_validated(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        ALSParams(**bad)  # type: ignore[arg-type]


def test_save_load_round_trip(
    model: ALSModel, blocks: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    model.save(tmp_path / "als")
    loaded = ALSModel.load(tmp_path / "als")
    assert loaded.params == model.params
    np.testing.assert_array_equal(loaded.user_factors, model.user_factors)
    np.testing.assert_array_equal(loaded.item_ids, model.item_ids)
    users = list(model.user_ids)
    pd.testing.assert_frame_equal(
        loaded.recommend(users, k=5, exclude=blocks[0]),
        model.recommend(users, k=5, exclude=blocks[0]),
    )


@pytest.mark.parametrize("name", [USER_FACTORS, ITEM_FACTORS, USER_IDS, ITEM_IDS, PARAMS, INDEX])
@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_load_damaged_file_is_domain_error(
    model: ALSModel, tmp_path: Path, name: str, damage: str
) -> None:
    model.save(tmp_path)
    path = tmp_path / name
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CircleRankError, match=name.replace(".", r"\.")):
        ALSModel.load(tmp_path)


def test_load_rejects_files_from_different_models(model: ALSModel, tmp_path: Path) -> None:
    model.save(tmp_path / "a")
    other = ALSModel(ALSParams(factors=8, iterations=2, seed=99)).fit(
        pd.DataFrame({"user_id": ["a", "b"], "item_id": ["x", "y"], "weight": [1.0, 2.0]})
    )
    other.save(tmp_path / "b")
    (tmp_path / "b" / INDEX).replace(tmp_path / "a" / INDEX)
    with pytest.raises(CircleRankError, match=INDEX.replace(".", r"\.")):
        ALSModel.load(tmp_path / "a")


def test_interactions_from_events_sums_skips_and_cuts_strictly_before_until() -> None:
    ts = pd.to_datetime(
        ["2024-03-01 10:00", "2024-03-01 11:00", "2024-03-02 09:00", "2024-03-02 12:00",
         "2024-03-03 00:00", "2024-03-01 08:00", "2024-03-01 09:00"],
        utc=True,
    )  # fmt: skip
    events = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u2", "u2", "u1"],
            "item_id": ["p1", "p1", "p1", "p1", "p2", "p3", "p2"],
            "action": ["click", "like", "impression", "share", "comment", "hide", "report"],
            "ts": ts,
        }
    )
    weights = {"click": 1.0, "like": 2.0, "comment": 3.0, "share": 3.0, "join": 4.0}

    every = interactions_from_events(events, weights, until=None)
    assert every.to_dict("records") == [
        {"user_id": "u1", "item_id": "p1", "weight": 3.0},
        {"user_id": "u2", "item_id": "p1", "weight": 3.0},
        {"user_id": "u2", "item_id": "p2", "weight": 3.0},
    ]

    # the comment at exactly `until` is left out; a naive `until` is read as UTC
    cut = interactions_from_events(events, weights, until=pd.Timestamp("2024-03-03 00:00"))
    assert cut[["user_id", "item_id"]].values.tolist() == [["u1", "p1"], ["u2", "p1"]]
    early = interactions_from_events(
        events, weights, until=pd.Timestamp("2024-03-01 11:00", tz="UTC")
    )
    assert early.to_dict("records") == [{"user_id": "u1", "item_id": "p1", "weight": 1.0}]

    none = interactions_from_events(events, {"join": 4.0}, until=None)
    assert none.empty and list(none.columns) == ["user_id", "item_id", "weight"]
    with pytest.raises(ConfigError):
        interactions_from_events(events, {"click": 0.0}, until=None)


def test_fits_on_simulated_contract_events(small_world: SimResult) -> None:
    events = pd.read_parquet(small_world.out_dir / "events.parquet")
    cut = events["ts"].sort_values().iloc[len(events) // 2]
    train = interactions_from_events(events, DEFAULT_ACTION_WEIGHTS, until=cut)
    everything = interactions_from_events(events, DEFAULT_ACTION_WEIGHTS)
    assert 0 < train["weight"].sum() < everything["weight"].sum()
    model = ALSModel(ALSParams(factors=4, iterations=3)).fit(train)
    users = [*model.user_ids[:10], "nobody"]
    rec = model.recommend(users, k=3, exclude=train)
    assert set(rec["user_id"]) <= set(model.user_ids[:10])
    assert rec.groupby("user_id").size().max() <= 3
    assert rec.merge(train, on=["user_id", "item_id"]).empty
