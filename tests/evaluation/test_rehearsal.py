"""Rehearsals with responsive creators and engine strategies: each arm gets exactly its
strategy, creators without a response post alike whatever the feed shows, and the
response model gives its stated answers."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pytest

from circlerank.errors import ConfigError
from evaluation.rehearsal.engine import Ranked
from evaluation.rehearsal.run import Rehearsal, rehearse
from evaluation.simulator import EpsilonGreedySlates, Policies, SimConfig, SimParams
from evaluation.simulator.loop import DayLoop, run_logs
from evaluation.simulator.policy import Sessions, Shown
from evaluation.simulator.posts import NEVER, Posts, post_ids
from evaluation.simulator.response import CreatorDrive
from evaluation.simulator.world import build_world
from training.bundle import Bundle

SMALL = SimConfig(users=300, days=12, seed=4)
RESPONSIVE = replace(SimParams(), creator_response=1.0)


@dataclass
class Silent:
    """A feed that shows nothing."""

    name: str = "silent"

    def serve(self, rng: np.random.Generator, sessions: Sessions, slate_size: int) -> Shown:
        z = np.zeros(0, dtype=np.int64)
        return Shown(z, z, z, np.zeros(0))


def _member_posts(posts: Posts) -> pd.DataFrame:
    keep = ~posts.is_official
    frame = pd.DataFrame(
        {"author": posts.author[keep], "circle": posts.circle[keep], "at": posts.created_us[keep]}
    )
    return frame.sort_values(["at", "author", "circle"], ignore_index=True)


def _posts_under(config: SimConfig, feed: object) -> pd.DataFrame:
    world = build_world(config)
    logs = run_logs(world, Policies(feed, EpsilonGreedySlates(0.3)))  # type: ignore[arg-type]
    return _member_posts(logs.posts)


def test_without_a_response_creators_post_alike_whatever_the_feed_shows() -> None:
    shown = _posts_under(SMALL, EpsilonGreedySlates(0.3))
    silent = _posts_under(SMALL, Silent())
    assert len(shown) > 100
    pd.testing.assert_frame_equal(shown, silent)


def test_with_a_response_a_silent_feed_stops_creators() -> None:
    config = replace(SMALL, params=RESPONSIVE)
    shown = _posts_under(config, EpsilonGreedySlates(0.3))
    silent = _posts_under(config, Silent())
    start = config.start_us
    during = [len(p[p["at"] >= start]) for p in (shown, silent)]
    # every creator's drive falls to a half and silent newcomers mostly stop
    assert during[1] < 0.75 * during[0], during


def test_the_drive_follows_the_stated_curve() -> None:
    params = replace(SimParams(), creator_response=1.0, response_prior=1.0)
    day = 86_400_000_000
    posts = Posts(
        circle=np.zeros(3, dtype=np.int64),
        author=np.array([0, 1, 2]),
        created_us=np.array([5 * day, 5 * day, 5 * day]),
        media=np.zeros(3, dtype=np.int64),
        is_official=np.zeros(3, dtype=bool),
        deleted_us=np.full(3, NEVER),
        quality=np.zeros(3),
    )
    drive = CreatorDrive.start(params, 4, Posts.empty(), logs_start_us=0)
    drive.update(np.random.default_rng(0), 6 * day, posts, np.array([1, 0, 5]))
    # ((r + 1) / (1 + 1)) ** 1: kept at the reference, halved in silence, capped at 3
    np.testing.assert_allclose(drive.drive, [1.0, 0.5, 3.0, 1.0])
    # newcomers are judged 3 days after their first post; user 1 heard nothing
    drive.update(np.random.default_rng(0), 9 * day, posts, np.array([1, 0, 5]))
    assert drive.judged[:3].all() and not drive.stopped[[0, 2]].any()
    assert drive.stopped[1] == (np.random.default_rng(0).random(3)[1] < 0.6)


@dataclass
class MarkerEngine:
    """An engine whose every page is one old post no simulator policy would show."""

    loop: DayLoop
    bundle: Bundle | None = None
    trained_days: list[int] = field(default_factory=list)
    asked: set[str] = field(default_factory=set)

    @property
    def marker(self) -> int:
        posts = self.loop.world.posts  # written before the logs, older than any fresh window
        kept = np.flatnonzero(~posts.is_official & (posts.deleted_us == NEVER))
        return int(kept[np.argmin(posts.created_us[kept])])

    def refresh(self, day: int) -> None:
        pass

    def pages(self, day: int, strategy: str, users: np.ndarray, limit: int) -> Ranked:
        self.asked.add(strategy)
        user = np.unique(users)
        return Ranked(user, np.full(len(user), self.marker), np.zeros(len(user), dtype=np.int64))

    def close(self) -> None:
        pass


@pytest.mark.parametrize("design", ["split", "worlds"])
def test_each_arm_is_served_only_its_strategy(design: str) -> None:
    engines: list[MarkerEngine] = []

    def make(loop: DayLoop, *_: object) -> MarkerEngine:
        engines.append(MarkerEngine(loop))
        return engines[-1]

    settings = Rehearsal(
        control="greedy",
        treatment="chronological",
        start_day=8,
        design=design,  # type: ignore[arg-type]
    )
    outcome = rehearse(SMALL, settings, make_engine=make)
    assert engines and all(e.asked == {"chronological"} for e in engines)
    marker = post_ids(outcome.world.posts)[engines[0].marker]
    events = outcome.events
    shown = events[(events["action"] == "impression") & (events["surface"] == "feed")]
    treated = shown[shown["arm"] == "chronological"]
    assert len(treated) > 20 and (treated["item_id"] == marker).all()
    assert set(shown.loc[shown["item_id"] == marker, "arm"]) == {"chronological"}
    # one marker a page; the control's pages are the simulator's, many posts each
    assert treated["request_id"].is_unique
    assert (shown["arm"] == "greedy").sum() > 2 * len(treated)


def test_an_unknown_strategy_names_both_kinds() -> None:
    with pytest.raises(
        ConfigError,
        match=r"simulator policies: logging, greedy, shuffle.*"
        r"engine feed strategies: .*community.*engagement",
    ):
        rehearse(SMALL, Rehearsal(control="logging", treatment="nope"))


def test_engine_arms_are_ranked_by_the_pipeline() -> None:
    settings = Rehearsal(control="chronological", treatment="popularity", start_day=10)
    outcome = rehearse(replace(SMALL, params=RESPONSIVE), settings)
    events = outcome.events
    shown = events[(events["action"] == "impression") & (events["arm"] == "chronological")]
    assert len(shown) > 20 and set(events["arm"]) == {"pre", "chronological", "popularity"}
    posts = outcome.logs["world"].posts
    created = pd.Series(posts.created_us, index=post_ids(posts))
    ages = shown.assign(at=shown["item_id"].map(created)).sort_values(["request_id", "position"])
    # newest first on every chronological page
    assert (ages.groupby("request_id")["at"].diff().dropna() <= 0).all()
    assert set(outcome.report["metrics"]) >= {"creator_share", "retention", "clicks_per_user"}


def test_retrain_days_retrains_the_bundle_on_the_logs_so_far() -> None:
    config = replace(SMALL, users=1000, days=12, params=RESPONSIVE)
    settings = Rehearsal(control="engagement", treatment="chronological", start_day=8)
    once = rehearse(config, settings)
    again = rehearse(config, settings.model_copy(update={"retrain_days": 2}))
    assert once.trained_days == [8]
    assert again.trained_days == [8, 10]
    assert again.report["trained_days"] == [8, 10]
    # up to the first retraining both runs serve the same bundle, so the same pages;
    # after it, the retrained bundle ranks some pages differently
    retrained = config.start_ts + pd.Timedelta(days=10)

    def shown(outcome: object, later: bool) -> pd.DataFrame:
        e = outcome.events  # type: ignore[attr-defined]
        e = e[(e["action"] == "impression") & ((e["ts"] >= retrained) == later)]
        return e[["user_id", "item_id", "position"]].reset_index(drop=True)

    assert len(shown(once, False)) > 20 and shown(once, False).equals(shown(again, False))
    assert not shown(once, True).equals(shown(again, True))
