"""Simulator scenarios: every named world passes the contract, and each shows the property
that defines its story, measured against the baseline world of the same seed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from circlerank.cli.main import main
from circlerank.errors import ConfigError
from evaluation.simulator import SCENARIOS, SimConfig, SimParams, SimResult, simulate
from evaluation.simulator.topics import TOPIC_NAMES, category_table
from features.contract.load import load_contract

SIZE = {"users": 600, "days": 14, "seed": 5}


@dataclass
class Scene:
    result: SimResult
    tables: dict[str, pd.DataFrame]
    absent: list[str]
    quarantined: dict[str, int]

    def truth(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.result.truth_dir / f"{name}.parquet")

    def impressions(self, surface: str) -> int:
        ev = self.tables["events"]
        return int(((ev.surface == surface) & (ev.action == "impression")).sum())


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Scene]:
    root = tmp_path_factory.mktemp("scenarios")
    out = {}
    for name in SCENARIOS:
        result = simulate(SimConfig(**SIZE, scenario=name), root / name / "world")
        data = load_contract(result.out_dir, quarantine_dir=root / name / "quarantine")
        report = data.report
        quarantined = {t: r.quarantined for t, r in report.tables.items()}
        out[name] = Scene(result, dict(data.tables), list(report.absent), quarantined)
    return out


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _joins_with_friend_member(scene: Scene) -> float:
    """Share of joins during the logs where a friend was already a member."""
    t = scene.tables
    ms, start = t["memberships"], scene.result.split_time - pd.Timedelta(days=SIZE["days"])
    joins = ms[ms.joined_at >= start][["user_id", "circle_id", "joined_at"]].reset_index()
    edges = t["social_edges"][t["social_edges"].kind == "friend"]
    friends = pd.concat(
        [
            edges[["user_id", "other_id"]],
            edges.rename(columns={"user_id": "other_id", "other_id": "user_id"}),
        ]
    )[["user_id", "other_id"]]
    theirs = ms.rename(columns={"user_id": "other_id", "joined_at": "since", "left_at": "until"})
    pairs = joins.merge(friends, on="user_id").merge(theirs, on=["other_id", "circle_id"])
    t_join = pairs.joined_at
    before = (pairs.since < t_join) & (pairs.until.isna() | (pairs.until > t_join))
    assert len(joins) >= 30
    return pairs.loc[before, "index"].nunique() / len(joins)


def _own_topic_spend_corr(scene: Scene) -> float:
    """Correlation over (user, topic) of the share of a user's topical payments made in
    the topic's own catalogue categories with the user's latent interest in it."""
    cats = category_table()
    own = dict(zip(cats.names, cats.topic, strict=True))
    t = scene.tables
    pay = t["payments"].merge(t["merchants"][["merchant_id", "category"]], on="merchant_id")
    pay = pay.assign(topic=pay.category.map(own))
    pay = pay[pay.topic >= 0]
    counts = pay.groupby(["user_id", "topic"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=range(len(TOPIC_NAMES)), fill_value=0)
    share = counts.div(counts.sum(axis=1), axis=0)
    latent = scene.truth("users_latent").set_index("user_id")
    interest = latent.loc[share.index, [f"interest_{n}" for n in TOPIC_NAMES]].to_numpy()
    return float(np.corrcoef(share.to_numpy().ravel(), interest.ravel())[0, 1])


def _join_drivers(scene: Scene) -> tuple[float, float]:
    """Rank correlations of the true join probability with the circle's quality and with
    the user's latent interest in its topic."""
    truth = scene.truth("join_truth").merge(scene.tables["circles"][["circle_id", "topic"]])
    quality = scene.truth("circles_latent").set_index("circle_id").quality
    latent = scene.truth("users_latent").set_index("user_id")
    cols = latent.columns.get_indexer([f"interest_{t}" for t in truth.topic])
    interest = latent.to_numpy()[latent.index.get_indexer(truth.user_id), cols]
    p = truth.p_join.rank()
    return (
        float(np.corrcoef(p, truth.circle_id.map(quality).rank())[0, 1]),
        float(np.corrcoef(p, pd.Series(interest).rank())[0, 1]),
    )


# ---------------------------------------------------------------- every scenario


def test_every_scenario_passes_the_contract(scenes: dict[str, Scene]) -> None:
    for name, scene in scenes.items():
        assert not any(scene.quarantined.values()), (name, scene.quarantined)
        expected = ["merchants", "payments"] if name == "no_payments" else []
        assert sorted(scene.absent) == expected, name
        for table in ("users", "circles", "memberships", "posts", "events"):
            assert len(scene.tables[table]) > 0, (name, table)


def test_the_scenario_is_recorded(scenes: dict[str, Scene]) -> None:
    for name, scene in scenes.items():
        meta = json.loads((scene.result.truth_dir / "meta.json").read_text())
        assert meta["scenario"] == meta["config"]["scenario"] == scene.result.scenario == name
        assert meta["row_counts"] == scene.result.row_counts
        params = json.loads(json.dumps(SimConfig(scenario=name).to_dict()["params"]))
        assert meta["config"]["params"] == params


def test_baseline_is_the_default_world() -> None:
    assert SCENARIOS["baseline"].changes == {}
    assert SimConfig().params == SimParams() and SimConfig().scenario == "baseline"
    for name, scenario in SCENARIOS.items():
        assert scenario.summary and len(scenario.models) > len(scenario.summary), name
        if name != "baseline":
            assert SimConfig(scenario=name).params != SimParams(), name


# ---------------------------------------------------------------- what defines each story


def test_no_payments_writes_no_payments_and_changes_nothing_else(
    scenes: dict[str, Scene],
) -> None:
    base, bare = scenes["baseline"].result, scenes["no_payments"].result
    written = {p.name for p in bare.out_dir.glob("*.parquet")}
    assert "payments.parquet" not in written and "merchants.parquet" not in written
    assert set(bare.row_counts) == set(base.row_counts) - {"payments", "merchants"}
    # payments have their own random stream: every other table is the baseline's
    for name in written:
        assert _hash(bare.out_dir / name) == _hash(base.out_dir / name), name


def test_noisy_payments_hide_interest_from_the_catalogue_link(scenes: dict[str, Scene]) -> None:
    base = _own_topic_spend_corr(scenes["baseline"])
    noisy = _own_topic_spend_corr(scenes["noisy_payments"])
    assert base > 0.5 and noisy < 0.2, (base, noisy)
    # only spending changes
    a, b = scenes["baseline"].result.out_dir, scenes["noisy_payments"].result.out_dir
    for name in ("events", "memberships", "merchants", "posts"):
        assert _hash(a / f"{name}.parquet") == _hash(b / f"{name}.parquet"), name


def test_scarce_logs_have_few_suggestion_impressions_and_many_memberships(
    scenes: dict[str, Scene],
) -> None:
    base, scarce = scenes["baseline"], scenes["scarce_logs"]
    sugg = "circle_suggestions"
    assert scarce.impressions(sugg) < base.impressions(sugg) / 5
    assert scarce.impressions("feed") < base.impressions("feed") / 1.5
    assert len(scarce.tables["memberships"]) > 1.2 * len(base.tables["memberships"])


def test_social_joins_follow_friends(scenes: dict[str, Scene]) -> None:
    base = _joins_with_friend_member(scenes["baseline"])
    social = _joins_with_friend_member(scenes["social"])
    assert social > base + 0.1, (base, social)
    edges = {n: len(scenes[n].tables["social_edges"]) for n in ("baseline", "social")}
    assert edges["social"] > 1.5 * edges["baseline"]
    # interest drives joins less than in the baseline
    assert _join_drivers(scenes["social"])[1] < _join_drivers(scenes["baseline"])[1]


def test_quality_first_joins_follow_quality_not_interest(scenes: dict[str, Scene]) -> None:
    base_quality, base_interest = _join_drivers(scenes["baseline"])
    quality, interest = _join_drivers(scenes["quality_first"])
    assert quality > base_quality + 0.2 and interest < base_interest, (quality, interest)
    assert quality > interest + 0.3
    truth = scenes["quality_first"].truth("feed_truth")
    posts = scenes["quality_first"].truth("posts_latent").set_index("post_id").quality
    assert truth.p_click.corr(truth.post_id.map(posts), method="spearman") > 0.6


def test_gated_gates_a_third_of_circles_strictly(scenes: dict[str, Scene]) -> None:
    gates = scenes["gated"].tables["circles"].min_credit_score.dropna()
    share = len(gates) / len(scenes["gated"].tables["circles"])
    base = scenes["baseline"].tables["circles"].min_credit_score.notna().mean()
    assert 0.2 <= share <= 0.55 and share > base, (share, base)
    assert (gates >= 700).all()


# ---------------------------------------------------------------- entry points


def test_unknown_scenario_is_one_line_naming_the_valid_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match=r"unknown scenario 'nope'.*baseline, noisy_payments"):
        SimConfig(scenario="nope")
    assert main(["-q", "simulate", "--out", str(tmp_path / "w"), "--scenario", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and all(name in err for name in SCENARIOS)
    assert not (tmp_path / "w").exists()


def test_simulate_help_lists_the_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    out = capsys.readouterr().out
    assert all(f"  {s.name}  " in out or f"  {s.name} " in out for s in SCENARIOS.values())


def test_simulate_command_writes_the_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["-q", "simulate", "--out", str(tmp_path / "w"), "--users", "60", "--days", "7"]
    assert main([*argv, "--scenario", "no_payments"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scenario"] == "no_payments" and "payments" not in summary["rows"]
    meta = json.loads((tmp_path / "w_truth" / "meta.json").read_text())
    assert meta["scenario"] == "no_payments"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"category_topics": 2.5}, "category_topics"),
        ({"category_topics": 15}, "category_topics"),
        ({"writes_payments": 0}, "writes_payments"),
        ({"category_link_sigma": -1.0}, "category_link_sigma"),
    ],
)
def test_bad_switch_names_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        SimParams(**changes)  # type: ignore[arg-type]
