"""Ground truth at the split time T: for a sample of users, the true engagement of every
feed candidate and the true join probability of every circle they could be suggested."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .behaviour import feed_probs, join_probs
from .columns import str_col
from .config import US_PER_DAY, rng_for
from .credit import eligible
from .events import IMPRESSION, event_ids
from .loop import LogResult
from .memberships import expand_ranges
from .posts import post_ids
from .topics import CITIES, TOPIC_NAMES
from .world import World


@dataclass
class Truth:
    feed: pd.DataFrame
    join: pd.DataFrame
    users: np.ndarray  # user indices of the sample


def truth_sample(world: World, logs: LogResult) -> np.ndarray:
    """A deterministic sample of users who are members of at least one circle at T."""
    cfg = world.config
    t = cfg.split_us
    member = logs.memberships.member_matrix(t, world.users.n, world.circles.n)
    pool = np.flatnonzero(member[: world.users.n_people].any(axis=1))
    k = min(cfg.n_truth_users, len(pool))
    rng = rng_for(cfg.seed, "truth_sample")
    return np.sort(rng.choice(pool, size=k, replace=False))


def feed_candidates_at(
    world: World, logs: LogResult, users: np.ndarray, t: int
) -> tuple[np.ndarray, np.ndarray]:
    """(user, post) pairs: posts in the user's circles at t, created in [t - freshness, t),
    not deleted by t and not written by the user."""
    posts = logs.posts
    fresh_us = world.config.freshness_days * US_PER_DAY
    window = np.flatnonzero(
        (posts.created_us >= t - fresh_us) & (posts.created_us < t) & (posts.deleted_us > t)
    )
    window = window[np.lexsort((window, posts.circle[window]))]
    w_circle = posts.circle[window]
    q, circle = logs.memberships.active_at(users, np.full(len(users), t, dtype=np.int64))
    lo = np.searchsorted(w_circle, circle, side="left")
    hi = np.searchsorted(w_circle, circle, side="right")
    pair, rows = expand_ranges(lo, hi)
    user, post = users[q[pair]], window[rows]
    keep = posts.author[post] != user
    return user[keep], post[keep]


def build_truth(world: World, logs: LogResult) -> Truth:
    cfg, p = world.config, world.config.params
    t = cfg.split_us
    sample = truth_sample(world, logs)
    posts = logs.posts
    ids_u, ids_c = world.users.ids, world.circles.ids

    user, post = feed_candidates_at(world, logs, sample, t)
    age = (t - posts.created_us[post]) / US_PER_DAY
    fp = feed_probs(p, world.users, world.circles, posts, world.ties, user, post, age)
    no_click = 1.0 - fp.click
    feed = pd.DataFrame(
        {
            "user": user,
            "post": post,
            "p_click": fp.click,
            "p_like": fp.click * fp.like,
            "p_comment": fp.click * fp.comment,
            "p_share": fp.click * fp.share,
            "p_hide": no_click * fp.hide,
            "p_report": no_click * fp.report,
            "p_engage": fp.click,
        }
    )

    member = logs.memberships.member_matrix(t, world.users.n, world.circles.n)
    size = member.sum(axis=0)
    tied = world.ties.tied_counts(member)
    score = world.credit.score_at(sample, t)
    ok = eligible(score[:, None], world.circles.gate[None, :])
    ok &= (world.circles.created_us < t)[None, :] & ~member[sample]
    s, circle = np.nonzero(ok)
    u = sample[s]
    p_join = join_probs(p, world.users, world.circles, u, circle, tied[u, circle], size[circle])
    join = pd.DataFrame({"user": u, "circle": circle, "p_join": p_join})
    feed.insert(0, "user_id", ids_u[feed.pop("user").to_numpy()])
    feed.insert(1, "post_id", post_ids(logs.posts)[feed.pop("post").to_numpy()])
    join.insert(0, "user_id", ids_u[join.pop("user").to_numpy()])
    join.insert(1, "circle_id", ids_c[join.pop("circle").to_numpy()])
    feed = feed.sort_values(["user_id", "post_id"], kind="stable").reset_index(drop=True)
    join = join.sort_values(["user_id", "circle_id"], kind="stable").reset_index(drop=True)
    return Truth(feed=feed, join=join, users=sample)


def truth_tables(world: World, logs: LogResult, truth: Truth) -> dict[str, pd.DataFrame]:
    """The truth files (id columns as strings) and the latent state behind the world."""
    u = world.users
    feed = truth.feed.astype({"user_id": "str", "post_id": "str"})
    join = truth.join.astype({"user_id": "str", "circle_id": "str"})
    latent = pd.DataFrame({"user_id": str_col(u.ids)})
    for i, name in enumerate(TOPIC_NAMES):
        latent[f"interest_{name}"] = u.interest[:, i]
    latent["activity"] = u.activity
    latent["credit_latent"] = u.credit_latent
    latent["click_bias"] = u.click_bias
    latent["join_bias"] = u.join_bias
    latent["creator_rate"] = u.creator_rate
    latent["skill"] = u.skill
    latent["is_platform"] = pd.Series(u.is_platform, dtype=bool)
    posts = logs.posts
    order = np.lexsort((np.arange(len(posts)), posts.created_us))
    posts_latent = pd.DataFrame(
        {
            "post_id": str_col(post_ids(posts)[order]),
            "quality": posts.quality[order],
        }
    )
    circles_latent = pd.DataFrame(
        {
            "circle_id": str_col(world.circles.ids),
            "quality": world.circles.quality,
            "local_city": str_col(
                np.array([name for name, _ in CITIES], dtype=object)[
                    np.maximum(world.circles.city, 0)
                ],
                null=world.circles.city < 0,
            ),
        }
    )
    t = world.ties
    ties = pd.DataFrame(
        {
            "user_id": str_col(u.ids[t.a]),
            "other_id": str_col(u.ids[t.b]),
            "strength": t.strength,
            "is_friend_edge": pd.Series(t.is_friend_edge, dtype=bool),
        }
    )
    imp = logs.events.action == IMPRESSION
    events_latent = pd.DataFrame(
        {
            "event_id": str_col(event_ids(len(logs.events))[imp]),
            "p_examine": logs.events.p_examine[imp],
            "p_true": logs.events.p_true[imp],
            "examined": pd.Series(logs.events.examined[imp], dtype=bool),
        }
    )
    return {
        "feed_truth": feed,
        "join_truth": join,
        "users_latent": latent,
        "posts_latent": posts_latent,
        "circles_latent": circles_latent,
        "ties_latent": ties,
        "events_latent": events_latent,
    }
