"""Experiments: validated config, sticky arms with the configured shares, and exploring
arms whose logged propensities are the policy's."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chisquare

from circlerank.errors import ConfigError
from ranking.strategy import load_strategies
from serving.eventlog import SQLiteEventLog
from serving.experiments import Experiments, load_experiments

from .conftest import AUTH, ServedWorld

THREE_ARMS = """
[experiments.ranker]
surface = "feed"
salt = "ranker-2026-11"
control = "control"

[[experiments.ranker.arms]]
name = "control"
share = 0.5
strategy = "community"

[[experiments.ranker.arms]]
name = "engagement"
share = 0.3
strategy = "engagement"

[[experiments.ranker.arms]]
name = "explore"
share = 0.2
strategy = "community"
exploration = { kind = "epsilon_greedy", epsilon = 0.5, pool = 12 }
"""
NOW = datetime(2026, 11, 25, tzinfo=UTC)


def _experiments(tmp_path: Path, text: str = THREE_ARMS) -> Path:
    path = tmp_path / "experiments.toml"
    path.write_text(text)
    return path


def test_arm_shares_hold_over_100k_users(tmp_path: Path) -> None:
    experiments = load_experiments(_experiments(tmp_path), load_strategies())
    arms = [experiments.assign("feed", f"user-{i}", NOW).arm for i in range(100_000)]
    names, counts = np.unique(arms, return_counts=True)
    shares = dict(zip(names.tolist(), (counts / len(arms)).tolist(), strict=True))
    expected = {"control": 0.5, "engagement": 0.3, "explore": 0.2}
    for arm, share in expected.items():
        assert abs(shares[arm] - share) < 0.02 * share  # within 2% of the configured share
    assert chisquare(counts, [expected[n] * len(arms) for n in names]).pvalue > 0.001


def test_assignment_is_sticky_and_salted(tmp_path: Path) -> None:
    experiments = load_experiments(_experiments(tmp_path), load_strategies())
    first = {u: experiments.assign("feed", u, NOW).arm for u in map(str, range(2000))}
    again = {u: experiments.assign("feed", u, NOW).arm for u in map(str, range(2000))}
    assert first == again
    resalted = load_experiments(
        _experiments(tmp_path, THREE_ARMS.replace("ranker-2026-11", "other")), load_strategies()
    )
    moved = sum(resalted.assign("feed", u, NOW).arm != a for u, a in first.items())
    assert moved > 500  # a new salt reshuffles users (independent of the old split)
    # other surfaces and times outside the window are not in the experiment
    assert experiments.assign("circle_suggestions", "1", NOW).arm == "default"


def test_outside_its_window_no_one_is_in_the_experiment(tmp_path: Path) -> None:
    text = THREE_ARMS.replace(
        'control = "control"',
        'control = "control"\nstart = 2026-12-01T00:00:00Z\nstop = 2027-01-01T00:00:00Z',
    )
    experiments = load_experiments(_experiments(tmp_path, text), load_strategies())
    assert experiments.assign("feed", "u1", NOW).experiment is None
    assert experiments.assign("feed", "u1", datetime(2026, 12, 5, tzinfo=UTC)).experiment


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("share = 0.2", "share = 0.3"), "sum to 1.1"),
        (('strategy = "engagement"', 'strategy = "nope"'), "unknown feed strategy 'nope'"),
        (('name = "engagement"', 'name = "control"'), "arm names repeat"),
        (('control = "control"', 'control = "treatment"'), "is not an arm"),
        (('kind = "epsilon_greedy"', 'kind = "thompson"'), "epsilon_greedy"),
        (('surface = "feed"', 'surface = "inbox"'), "unknown surface"),
    ],
)
def test_a_bad_experiment_is_refused_at_load(tmp_path: Path, change, message) -> None:
    text = THREE_ARMS.replace(*change)
    with pytest.raises(ConfigError, match=message):
        load_experiments(_experiments(tmp_path, text), load_strategies())


def test_overlapping_experiments_on_one_surface_are_refused() -> None:
    arm = {"name": "a", "share": 1.0}
    with pytest.raises(ValueError, match="overlapping"):
        Experiments.model_validate(
            {
                "experiments": {
                    "x": {"name": "x", "surface": "feed", "salt": "s1", "arms": [arm]},
                    "y": {"name": "y", "surface": "feed", "salt": "s2", "arms": [arm]},
                }
            }
        )


def test_a_user_stays_in_one_arm_over_1000_calls(api, served_world: ServedWorld, tmp_path) -> None:
    user = served_world.users[11]
    with api(experiments=_experiments(tmp_path)) as client:
        arms = {
            client.get("/v1/feed", params={"user_id": user, "limit": 1}, headers=AUTH).json()["arm"]
            for _ in range(1000)
        }
    assert len(arms) == 1


def test_exploring_arm_logs_the_policys_propensities(
    api, served_world: ServedWorld, tmp_path
) -> None:
    """Each logged propensity equals the policy's probability of that item in that slot,
    recomputed from the deterministic ranking of the same strategy."""
    experiments = load_experiments(_experiments(tmp_path), load_strategies())
    explorers = [
        u for u in served_world.users if experiments.assign("feed", u, NOW).arm == "explore"
    ][:10]
    epsilon, pool = 0.5, 12
    checked = 0
    with api(experiments=_experiments(tmp_path)) as client:
        for user in explorers:
            page = client.get("/v1/feed", params={"user_id": user, "limit": 5}, headers=AUTH).json()
            assert page["arm"] == "explore" and page["experiment"] == "ranker"
            full = client.get(
                "/v1/feed",
                params={"user_id": user, "limit": pool, "strategy": "community"},
                headers=AUTH,
            ).json()
            assert full["arm"] == "requested"
            best_first = [i["item_id"] for i in full["items"]]
            for slot, item in enumerate(page["items"]):
                at_its_rank = best_first.index(item["item_id"]) == slot
                expected = epsilon / len(best_first) + (1 - epsilon) * at_its_rank
                assert item["propensity"] == pytest.approx(expected, rel=1e-12)
                checked += 1
        time.sleep(0.3)  # the background writer flushes every 0.1 s
        log = SQLiteEventLog(tmp_path / "events.db")
        logged = log.read()
        log.close()
    assert checked >= 30
    explored = logged[logged["arm"] == "explore"]
    assert len(explored) == checked
    assert set(explored["experiment"]) == {"ranker"}
    assert (explored["propensity"] < 1).all()  # the arm really explores


INTERLEAVED = """
[experiments.duel]
surface = "feed"
salt = "duel"

[[experiments.duel.arms]]
name = "interleaved"
share = 1.0
interleave = ["engagement", "chronological"]
"""


def test_an_interleaving_arm_logs_exact_propensities_and_credits_clicks(
    api, served_world: ServedWorld, tmp_path
) -> None:
    from evaluation.interleave import credit_from_log
    from ranking.interleave import slot_probabilities

    users = served_world.users[20:32]
    with api(experiments=_experiments(tmp_path, INTERLEAVED)) as client:
        pages = {}
        for user in users:
            page = client.get("/v1/feed", params={"user_id": user, "limit": 6}, headers=AUTH).json()
            assert page["arm"] == "interleaved" and page["strategy"] == "engagement|chronological"
            assert page["next_cursor"] is None
            lists = [
                [
                    i["item_id"]
                    for i in client.get(
                        "/v1/feed",
                        params={"user_id": user, "limit": 6, "strategy": name},
                        headers=AUTH,
                    ).json()["items"]
                ]
                for name in ("engagement", "chronological")
            ]
            exact = slot_probabilities(lists[0], lists[1], 6)
            for slot, item in enumerate(page["items"]):
                assert item["propensity"] == pytest.approx(exact[(item["item_id"], slot)])
            pages[user] = page
        time.sleep(0.3)
        log = SQLiteEventLog(tmp_path / "events.db")
        served = log.read()
        log.close()
        mine = served[served["arm"] == "interleaved"]
        clicks = [
            {
                "event_id": f"c{i}",
                "ts": "2026-03-21T10:00:00Z",
                "user_id": row.user_id,
                "surface": "feed",
                "item_id": row.item_id,
                "action": "click",
                "request_id": row.request_id,
                "position": int(row.position),
            }
            for i, row in enumerate(mine[mine["strategy"] == "engagement"].itertuples())
        ]
        assert client.post("/v1/events", json=clicks, headers=AUTH).status_code == 202
        log = SQLiteEventLog(tmp_path / "events.db")
        everything = log.read()
        log.close()
    result = credit_from_log(everything, "interleaved", ("engagement", "chronological"))
    assert (result["a"], result["b"]) == ("engagement", "chronological")
    preference = result["preference"]
    assert preference.wins_b == 0 and preference.wins_a > 0 and preference.preference > 0


def _session(
    client, user: str, first: dict[str, str], pages: int = 3, later: dict[str, str] | None = None
) -> list[dict]:
    """Up to `pages` pages of one feed session: the first asked with `first`, the later
    ones with its cursor and `later` (default: nothing more)."""
    bodies: list[dict] = []
    params = {"user_id": user, "limit": "4", **first}
    for _ in range(pages):
        got = client.get("/v1/feed", params=params, headers=AUTH)
        assert got.status_code == 200, got.text
        bodies.append(got.json())
        if bodies[-1]["next_cursor"] is None:
            break
        params = {"user_id": user, "limit": "4", "cursor": bodies[-1]["next_cursor"]}
        params |= later or {}
    return bodies


def _logged(tmp_path: Path):
    log = SQLiteEventLog(tmp_path / "events.db")
    rows = log.read()
    log.close()
    return rows[rows["action"] == "impression"]


def _served_under(impressions, body: dict) -> set[tuple[str, str | None, str]]:
    """The (arm, experiment, strategy) triples a page's impressions were logged with."""
    rows = impressions[impressions["request_id"] == body["request_id"]]
    assert len(rows) == len(body["items"])
    return {
        (r.arm, r.experiment if isinstance(r.experiment, str) else None, r.strategy)
        for r in rows.itertuples()
    }


def _assert_one_session(bodies: list[dict], impressions, expected: tuple) -> None:
    """Every page served and logged as `expected` (arm, experiment, strategy), the
    exploring arm's pages with its propensities and the others with 1, ranks
    contiguous and no item twice."""
    _assert_pages(bodies, impressions, [expected] * len(bodies))


def _assert_pages(bodies: list[dict], impressions, expected: list[tuple]) -> None:
    """`_assert_one_session` with each page's own expected (arm, experiment, strategy)."""
    assert len(bodies) == len(expected)
    for body, want in zip(bodies, expected, strict=True):
        assert (body["arm"], body["experiment"], body["strategy"]) == want
        assert _served_under(impressions, body) == ({want} if body["items"] else set())
        propensities = [i["propensity"] for i in body["items"]]
        if want[0] == "explore":  # < 1 even for a best-first draw, unless one item was left
            assert all(p < 1 for p in propensities) or len(propensities) < 2
        else:
            assert all(p == 1.0 for p in propensities)
    items = [i for b in bodies for i in b["items"]]
    assert [i["rank"] for i in items] == list(range(len(items)))
    assert len({i["item_id"] for i in items}) == len(items)


ARM_STRATEGY = {"control": "community", "engagement": "engagement", "explore": "community"}


def test_later_pages_keep_the_arm_and_policy_of_the_first(
    api, served_world: ServedWorld, tmp_path
) -> None:
    """With an experiment running, 60 users each page through an arm session and a
    session that named a strategy on its first page only: every page is served and
    logged as its session's first page was, never under a freshly drawn arm, and the
    exploring arm's exploration touches only its own sessions."""
    experiments = load_experiments(_experiments(tmp_path), load_strategies())
    users = served_world.users[100:160]
    sessions = []
    with api(experiments=_experiments(tmp_path)) as client:
        for user in users:
            arm = experiments.assign("feed", user, NOW).arm
            plain = _session(client, user, {})
            sessions.append((plain, (arm, "ranker", ARM_STRATEGY[arm])))
            named = _session(client, user, {"strategy": "chronological"})
            sessions.append((named, ("requested", None, "chronological")))
            again = _session(
                client, user, {"strategy": "popularity"}, later={"strategy": "popularity"}
            )
            sessions.append((again, ("requested", None, "popularity")))
    impressions = _logged(tmp_path)
    for bodies, expected in sessions:
        _assert_one_session(bodies, impressions, expected)
    later_pages = {(e[0], len(b) > 1) for b, e in sessions}
    for arm in ("control", "engagement", "explore", "requested"):
        assert (arm, True) in later_pages  # every kind of session was paged on


def test_a_session_keeps_its_arm_when_the_experiments_change(
    api, served_world: ServedWorld, tmp_path
) -> None:
    """Sessions begun before an experiment started stay in arm `default`; sessions of
    one salt keep their arms after a restart under another salt."""
    secret = {"cursor_secret": "a-shared-cursor-secret-0123"}
    users = served_world.users[200:240]
    salt_a = load_experiments(_experiments(tmp_path), load_strategies())
    (tmp_path / "b").mkdir()
    resalted = _experiments(tmp_path / "b", THREE_ARMS.replace("ranker-2026-11", "other"))
    salt_b = load_experiments(resalted, load_strategies())
    moved = [
        u for u in users if salt_a.assign("feed", u, NOW).arm != salt_b.assign("feed", u, NOW).arm
    ]
    assert len(moved) >= 10  # the restart would draw another arm for these users

    def next_page(client, user: str, bodies: list[dict]) -> None:
        if bodies[-1]["next_cursor"] is not None:
            params = {"user_id": user, "limit": "4", "cursor": bodies[-1]["next_cursor"]}
            bodies.append(client.get("/v1/feed", params=params, headers=AUTH).json())

    with api(**secret) as client:  # no experiment yet
        before = {u: _session(client, u, {}, pages=1) for u in users}
    with api(experiments=_experiments(tmp_path), **secret) as client:
        for user in users:
            next_page(client, user, before[user])
        arms_a = {u: _session(client, u, {}, pages=1) for u in users}
    with api(experiments=resalted, **secret) as client:
        for user in users:
            next_page(client, user, arms_a[user])
    impressions = _logged(tmp_path)
    paged_on = 0
    for user in users:
        _assert_one_session(before[user], impressions, ("default", None, "community"))
        arm = salt_a.assign("feed", user, NOW).arm
        _assert_one_session(arms_a[user], impressions, (arm, "ranker", ARM_STRATEGY[arm]))
        paged_on += user in moved and len(arms_a[user]) == 2
    assert paged_on >= 5
