"""Outage fallback pages inside paged sessions, with an experiment running: a fallback
page continues the session where it was (no item twice, ranks go on), is logged under
arm `fallback` and no experiment, and its cursor carries on the session's own arm and
policy once Redis is back."""

from __future__ import annotations

import pytest

from ranking.strategy import load_strategies
from serving.experiments import load_experiments
from tests.servers import LocalRedis, wait_for

from .conftest import AUTH, ServedWorld
from .test_experiments import ARM_STRATEGY, NOW, _assert_pages, _experiments, _logged

pytestmark = pytest.mark.slow

FALLBACK = ("fallback", None, "popularity")


def _page(client, user: str, bodies: list[dict]) -> None:
    """The session's next page (its first if `bodies` is empty), if it has one."""
    params = {"user_id": user, "limit": "4"}
    if bodies:
        if bodies[-1]["next_cursor"] is None:
            return
        params["cursor"] = bodies[-1]["next_cursor"]
    got = client.get("/v1/feed", params=params, headers=AUTH)
    assert got.status_code == 200, got.text
    bodies.append(got.json())


def test_a_fallback_page_keeps_the_session_and_is_logged_under_no_arm(
    api, served_world: ServedWorld, tmp_path
) -> None:
    path = _experiments(tmp_path)
    experiments = load_experiments(path, load_strategies())
    users = served_world.users[100:140]
    begun = users[:20]  # the others begin during the outage
    sessions: dict[str, list[dict]] = {u: [] for u in users}
    redis = LocalRedis()
    redis.start()
    try:
        with api(online_store=redis.url, store_retry_s=0.2, experiments=path) as client:
            for user in begun:
                _page(client, user, sessions[user])
            redis.stop(kill=True)
            for user in users:  # page 2 of the first sessions, page 1 of the others
                _page(client, user, sessions[user])
            redis.start()
            probe = {"user_id": served_world.users[5], "limit": "1"}
            assert wait_for(
                lambda: (
                    client.get("/v1/feed", params=probe, headers=AUTH).json()["arm"] != "fallback"
                )
            )
            for user in users:
                _page(client, user, sessions[user])
    finally:
        redis.close()
    impressions = _logged(tmp_path)
    resumed = 0
    for user, bodies in sessions.items():
        arm = experiments.assign("feed", user, NOW).arm
        own = (arm, "ranker", ARM_STRATEGY[arm])
        plan = [own, FALLBACK, own] if user in begun else [FALLBACK, own]
        _assert_pages(bodies, impressions, plan[: len(bodies)])
        resumed += len(bodies) == len(plan) and bool(bodies[-1]["items"])
    assert resumed >= 10  # sessions that went on, past a fallback page, in their own arm
