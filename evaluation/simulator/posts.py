"""Posts: written by circle members while they are members, plus platform (official) posts."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .circles import Circles
from .config import US_PER_DAY, SimConfig
from .memberships import OPEN, Intervals
from .population import Users, make_ids

NEVER = OPEN  # deleted_us of a post that was not deleted by the end of the logs


@dataclass
class Posts:
    """Append-only columns; index order is creation batch order, not time order."""

    circle: np.ndarray
    author: np.ndarray
    created_us: np.ndarray
    media: np.ndarray  # index into MEDIA_TYPES
    is_official: np.ndarray
    deleted_us: np.ndarray
    quality: np.ndarray

    def __len__(self) -> int:
        return len(self.circle)

    @staticmethod
    def empty() -> Posts:
        i, f = np.zeros(0, np.int64), np.zeros(0)
        return Posts(i, i, i, i, np.zeros(0, bool), i, f)

    def append(self, other: Posts) -> Posts:
        return Posts(
            *(np.concatenate([getattr(self, f.name), getattr(other, f.name)]) for f in fields(self))
        )


def write_posts(
    cfg: SimConfig,
    rng: np.random.Generator,
    users: Users,
    circles: Circles,
    members: Intervals,
    t0: int,
    t1: int,
    drive: np.ndarray | None = None,
) -> Posts:
    """Every post created in [t0, t1): members post at their creator rate while members
    (from when they start creating), times their `drive` when creators respond to the
    feed (response.py); the platform posts in official circles and pushes some official
    posts into the others."""
    p = cfg.params
    ugc_at, ugc_author, ugc_circle = _member_posts(rng, users, circles, members, t0, t1, drive)
    off_at, off_author, off_circle = _platform_posts(cfg, rng, users, circles, t0, t1)
    n_ugc, n_off = len(ugc_at), len(off_at)
    official = np.concatenate([np.zeros(n_ugc, bool), np.ones(n_off, bool)])
    author = np.concatenate([ugc_author, off_author])
    created = np.minimum(np.concatenate([ugc_at, off_at]), t1 - 1)
    media = np.where(
        official,
        rng.choice(3, size=n_ugc + n_off, p=np.array(p.official_media_mix)),
        rng.choice(3, size=n_ugc + n_off, p=np.array(p.media_mix)),
    )
    quality = np.where(
        official,
        rng.normal(p.official_quality_mean, 0.7, size=n_ugc + n_off),
        rng.normal(0.0, 1.0, size=n_ugc + n_off) + 0.5 * users.skill[author],
    )
    share = np.where(official, p.delete_share / 4, p.delete_share)
    share = share * np.where(quality < -1.0, 2.0, 1.0)  # weak posts get deleted more
    deleted = created + (rng.exponential(p.delete_mean_days, size=n_ugc + n_off) * US_PER_DAY)
    deleted_us = deleted.astype(np.int64)
    dropped = (rng.random(n_ugc + n_off) < share) & (deleted_us < cfg.split_us)
    return Posts(
        circle=np.concatenate([ugc_circle, off_circle]),
        author=author,
        created_us=created,
        media=media,
        is_official=official,
        deleted_us=np.where(dropped, deleted_us, NEVER),
        quality=quality,
    )


def _member_posts(
    rng: np.random.Generator,
    users: Users,
    circles: Circles,
    members: Intervals,
    t0: int,
    t1: int,
    drive: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Members' posts in [t0, t1): time, author and circle of each."""
    rate = users.creator_rate[members.user]
    if drive is not None:
        rate = rate * drive[members.user]
    lo = np.maximum.reduce(
        [
            members.joined_us,
            np.full(len(members), t0),
            users.creator_since_us[members.user],
            circles.created_us[members.circle],
        ]
    )
    hi = np.minimum(members.left_us, t1)
    live = (rate > 0) & (hi > lo)
    lo, hi, user, circle = lo[live], hi[live], members.user[live], members.circle[live]
    interest = users.interest[user, circles.topic[circle]]
    expected = (
        rate[live]
        * (0.3 + interest)
        * np.exp(0.3 * circles.quality[circle])
        * (hi - lo)
        / US_PER_DAY
    )
    counts = rng.poisson(expected)
    idx = np.repeat(np.arange(len(user)), counts)
    at = lo[idx] + (rng.random(len(idx)) * (hi[idx] - lo[idx])).astype(np.int64)
    return at, user[idx], circle[idx]


def _platform_posts(
    cfg: SimConfig, rng: np.random.Generator, users: Users, circles: Circles, t0: int, t1: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The platform's posts in [t0, t1): in official circles, and pushed into the others."""
    p = cfg.params
    start = np.maximum(circles.created_us, t0)
    span = np.maximum(t1 - start, 0) / US_PER_DAY
    per_day = np.where(circles.is_official, p.official_posts_per_day, p.pushed_posts_per_day)
    per_day = per_day * min(1.0, np.sqrt(cfg.users / p.platform_reference_users))
    counts = rng.poisson(per_day * span)
    circle = np.repeat(np.arange(circles.n), counts)
    at = start[circle] + (rng.random(len(circle)) * (t1 - start[circle])).astype(np.int64)
    platform = np.flatnonzero(users.is_platform)
    author = platform[rng.integers(0, len(platform), size=len(circle))]
    return at, author, circle


def post_ids(posts: Posts) -> np.ndarray:
    """Post ids in order of creation time (ties by internal index), per internal index."""
    order = np.lexsort((np.arange(len(posts)), posts.created_us))
    ids = np.empty(len(order), dtype=object)
    ids[order] = make_ids("p", len(order), min_width=6)
    return ids
