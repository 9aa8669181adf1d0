"""What a community needs, per user and per day, from a run's logs.

Per user over the experiment [start, end): feed clicks and impressions; whether they
wrote a member post in the last 7 days (`creator_share` is its mean); member posts per
day; whether they were active in the last 7 days (a click, like, comment, share or join,
or a post: the simulator's users open the app at their own rate whatever the feed
shows, so opening it is no sign of retention); and, for new creators (first member post
inside the experiment, at least 14 days before its end), whether they still posted 14
days or more after their first post. Also each person's clicks and member posts in the
14 days before the experiment: covariates that no arm can have changed (CUPED).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..simulator.config import US_PER_DAY
from ..simulator.events import CLICK, COMMENT, FEED, IMPRESSION, JOIN, LIKE, SHARE
from ..simulator.loop import LogResult

RECENT_DAYS = 7
PRE_DAYS = 14  # the days before the experiment that CUPED's covariates count
STILL_POSTING_DAYS = 14
POSITIVE = (CLICK, LIKE, COMMENT, SHARE, JOIN)


@dataclass(frozen=True)
class Window:
    start_us: int
    end_us: int

    @property
    def days(self) -> int:
        return int((self.end_us - self.start_us) // US_PER_DAY)


@dataclass(frozen=True)
class Daily:
    """(people, days) counts per day of the experiment, and the 14 days before it."""

    clicks: np.ndarray
    impressions: np.ndarray
    posts: np.ndarray  # member posts written
    active: np.ndarray  # any positive action or post
    lead: int  # columns before the experiment's first day

    def recent(self, counts: np.ndarray, day: int) -> np.ndarray:
        """Per user, whether `counts` is positive in the 7 days up to experiment `day`."""
        end = self.lead + day + 1
        return counts[:, end - RECENT_DAYS : end].sum(axis=1) > 0

    def before(self, counts: np.ndarray) -> np.ndarray:
        """Per user, the sum of `counts` over the days before the experiment."""
        return counts[:, : self.lead].sum(axis=1)


def daily(logs: LogResult, n_people: int, window: Window) -> Daily:
    lead = max(RECENT_DAYS - 1, PRE_DAYS)
    first = window.start_us - lead * US_PER_DAY
    width = lead + window.days
    ev = logs.events
    people = ev.user < n_people
    shape = (n_people, width)

    def count(mask: np.ndarray, user: np.ndarray, ts: np.ndarray) -> np.ndarray:
        day = (ts - first) // US_PER_DAY
        ok = mask & (day >= 0) & (day < width)
        out = np.zeros(shape, dtype=np.int64)
        np.add.at(out, (user[ok], day[ok]), 1)
        return out

    feed = people & (ev.surface == FEED)
    clicks = count(feed & (ev.action == CLICK), ev.user, ev.ts_us)
    impressions = count(feed & (ev.action == IMPRESSION), ev.user, ev.ts_us)
    p = logs.posts
    member = ~p.is_official & (p.author < n_people)
    posts = count(member, p.author, p.created_us)
    positive = count(people & np.isin(ev.action, POSITIVE), ev.user, ev.ts_us)
    return Daily(clicks, impressions, posts, (positive + posts) > 0, lead)


def per_user(logs: LogResult, n_people: int, window: Window, user_ids: np.ndarray) -> pd.DataFrame:
    """One row per person (index: user id) with the per-user measures."""
    d = daily(logs, n_people, window)
    inside = slice(d.lead, d.lead + window.days)
    last = window.days - 1
    debut, still = _new_creators(logs, n_people, window)
    return pd.DataFrame(
        {
            "clicks": d.clicks[:, inside].sum(axis=1),
            "impressions": d.impressions[:, inside].sum(axis=1),
            "posted_recently": d.recent(d.posts, last).astype(np.float64),
            "posts_per_day": d.posts[:, inside].sum(axis=1) / window.days,
            "active_recently": d.recent(d.active, last).astype(np.float64),
            "new_creator": debut,
            "still_posting": still.astype(np.float64),
            "clicks_before": d.before(d.clicks).astype(np.float64),
            "posts_before": d.before(d.posts).astype(np.float64),
        },
        index=pd.Index(user_ids[:n_people], name="user_id"),
    )


def _new_creators(logs: LogResult, n_people: int, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Per person: a new creator of the experiment? still posting 14 days on?"""
    p = logs.posts
    member = ~p.is_official & (p.author < n_people)
    author, created = p.author[member], p.created_us[member]
    debut = np.full(n_people, np.iinfo(np.int64).max)
    np.minimum.at(debut, author, created)
    span = STILL_POSTING_DAYS * US_PER_DAY
    new = (debut >= window.start_us) & (debut < window.end_us - span)
    later = created >= debut[author] + span
    still = np.zeros(n_people, dtype=bool)
    still[author[later & (created < window.end_us)]] = True
    return new, still & new
