"""The true behaviour of users: vectorised probability functions shared by the day loop
(to sample what happened) and the truth writer (to record what would happen)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .circles import Circles, locality
from .config import SimParams
from .population import Users
from .posts import Posts
from .social import Ties


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class FeedProbs:
    """Probabilities given the post is examined. like/comment/share are conditional on a
    click; hide/report on no click."""

    click: np.ndarray
    like: np.ndarray
    comment: np.ndarray
    share: np.ndarray
    hide: np.ndarray
    report: np.ndarray


def feed_probs(
    p: SimParams,
    users: Users,
    circles: Circles,
    posts: Posts,
    ties: Ties,
    user: np.ndarray,
    post: np.ndarray,
    age_days: np.ndarray,
) -> FeedProbs:
    """Engagement truth for (user, post) rows at the given post ages."""
    author = posts.author[post]
    interest = users.interest[user, circles.topic[posts.circle[post]]]
    quality = posts.quality[post]
    tie = ties.strength_of(user, author)
    official = posts.is_official[post].astype(np.float64)
    media = np.asarray(p.click_media)[posts.media[post]]
    click = sigmoid(
        p.click_base
        + p.click_interest * interest
        + p.click_quality * quality
        + p.click_tie * tie
        + p.click_skill * users.skill[author]
        + media
        + p.click_official * official
        - p.click_age_per_day * age_days
        + users.click_bias[user]
    )
    after = p.after_click_interest * interest + p.after_click_quality * quality
    after = after + p.after_click_tie * tie
    hide = sigmoid(
        p.hide_base
        + p.hide_interest * interest
        + p.hide_quality * quality
        + p.hide_official * official
    )
    report = sigmoid(p.report_base + p.report_quality * quality)
    return FeedProbs(
        click=click,
        like=sigmoid(p.like_base + after),
        comment=sigmoid(p.comment_base + after),
        share=sigmoid(p.share_base + after + 0.5 * media),
        hide=hide,
        report=report,
    )


def join_probs(
    p: SimParams,
    users: Users,
    circles: Circles,
    user: np.ndarray,
    circle: np.ndarray,
    tied_members: np.ndarray,
    members: np.ndarray,
) -> np.ndarray:
    """P(join | suggestion examined): interest, ties already in the circle, circle quality,
    size and (for a local circle) living in its city. Credit plays no part: it only
    decides who may be shown the circle."""
    return sigmoid(
        p.sjoin_base
        + p.sjoin_interest * users.interest[user, circles.topic[circle]]
        + p.sjoin_ties * np.log1p(tied_members)
        + p.sjoin_quality * circles.quality[circle]
        + p.sjoin_size * np.log1p(members)
        + p.sjoin_official * circles.is_official[circle]
        + locality(p, users.city[user], circles.city[circle])
        + users.join_bias[user]
    )


def examine_probs(p: SimParams, slot: np.ndarray) -> np.ndarray:
    """Position bias: the chance a user looks at slot k at all."""
    return examination(slot, p.examine_decay)


def examination(slot: np.ndarray, decay: float) -> np.ndarray:
    """1 / (slot + 1)^decay: the examination curve with its decay given."""
    return 1.0 / np.power(np.asarray(slot, dtype=np.float64) + 1.0, decay)
