"""Off-policy estimators: known answers on synthetic logs, warnings, and coverage of the
truth on the simulator."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.ope import Logged, estimate, examination_from_random
from evaluation.ope_check import check_on_truth, summary
from evaluation.simulator import SimResult


def _uniform_logs(n: int, seed: int) -> tuple[Logged, float]:
    """One slot, 4 items shown uniformly at random; the target always shows item 0.
    Item i is clicked with probability (i + 1) / 10, so the target's value is 0.1."""
    rng = np.random.default_rng(seed)
    item = rng.integers(0, 4, n)
    reward = (rng.random(n) < (item + 1) / 10).astype(float)
    logged = Logged(
        request=np.arange(n),
        slot=np.zeros(n, dtype=int),
        reward=reward,
        propensity=np.full(n, 0.25),
        target=(item == 0).astype(float),
        predicted=np.full(n, 0.2),
        target_predicted=np.full(n, 0.2),
    )
    return logged, 0.1


def test_estimators_are_unbiased_on_a_uniform_logger() -> None:
    values: dict[str, list[float]] = {}
    for seed in range(200):
        logged, _ = _uniform_logs(400, seed)
        for name, est in estimate(logged).estimates.items():
            values.setdefault(name, []).append(est.value)
    for name in ("ips", "snips", "dr", "clipped_ips"):  # weights of 4 never reach the clip
        assert np.mean(values[name]) == pytest.approx(0.1, abs=0.005), name


def test_on_policy_ips_is_the_mean_reward_and_ess_the_sample() -> None:
    rng = np.random.default_rng(0)
    reward = (rng.random(1000) < 0.3).astype(float)
    logged = Logged(
        request=np.arange(1000),
        slot=np.zeros(1000, dtype=int),
        reward=reward,
        propensity=np.ones(1000),
        target=np.ones(1000),
    )
    got = estimate(logged)
    assert got.estimates["ips"].value == pytest.approx(reward.mean())
    assert got.estimates["snips"].value == pytest.approx(reward.mean())
    assert got.estimates["ips"].ess == pytest.approx(1000)
    assert "dr" not in got.estimates and not got.warnings  # no reward model given


def test_missing_and_tiny_propensities_are_warned_about() -> None:
    logged, _ = _uniform_logs(100, 1)
    propensity = logged.propensity.copy()
    propensity[:3] = np.nan
    propensity[3:5] = 1e-5
    got = estimate(Logged(**{**logged.__dict__, "propensity": propensity}))
    assert any("3 of 100 rows have a missing" in w for w in got.warnings)
    assert any("2 rows have a propensity below" in w for w in got.warnings)
    assert got.estimates["ips"].requests == 97


def test_examination_is_read_off_randomized_requests() -> None:
    rng = np.random.default_rng(2)
    slot = rng.integers(0, 8, 200_000)
    reward = (rng.random(len(slot)) < 0.3 / (slot + 1.0) ** 0.8).astype(float)
    exam = examination_from_random(slot, reward, np.ones(len(slot), dtype=bool))
    assert exam[0] == 1.0
    assert exam == pytest.approx(1.0 / np.arange(1, 9) ** 0.8, rel=0.05)


def test_snips_and_dr_intervals_cover_the_truth_on_the_simulator(small_world: SimResult) -> None:
    """Three target rankings, 50 replications of the simulator's logging policy and of
    the clicks: the position-based SNIPS and DR intervals hold the true value in >= 90%."""
    table = summary(check_on_truth(small_world.truth_dir, replications=50))
    position = table.loc["position"]
    for target in ("oracle", "logger_greedy", "noisy"):
        for estimator in ("snips", "dr"):
            assert position.loc[(target, estimator), "coverage"] >= 0.9, (target, estimator)
    # the position-based model shares weight across slots: far larger samples
    exact = table.loc["exact_slot"]
    assert (
        (position.xs("snips", level=1)["ess"] > 5 * exact.xs("snips", level=1)["ess"])
        .loc[["oracle", "noisy"]]
        .all()
    )
