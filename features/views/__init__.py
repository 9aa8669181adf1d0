"""Every feature view, in one declared list. `circlerank features --list` prints it."""

from __future__ import annotations

from .activity import AUTHOR_ACTIVITY, CIRCLE_MEMBERS, CIRCLE_POSTS, USER_CIRCLE_POSTS
from .base import VECTOR_PREFIX, FeatureView, Streams, ViewParams
from .content import CIRCLE_INFO, POST_CONTENT, USER_PROFILE
from .credit import USER_CREDIT
from .engagement import (
    AUTHOR_ENGAGEMENT,
    CIRCLE_ENGAGEMENT,
    CIRCLE_SUGGESTIONS,
    POST_ENGAGEMENT,
    USER_AUTHOR_ENGAGEMENT,
    USER_CIRCLE_ENGAGEMENT,
    USER_CIRCLE_SUGGESTIONS,
    USER_ENGAGEMENT,
    USER_TOPIC_ENGAGEMENT,
)
from .interest import CIRCLE_CITIES, CIRCLE_PROFILE, POPULATION_PROFILE, USER_TOPIC_MEMBERSHIPS
from .payment import USER_PAYMENTS
from .social import (
    USER_AUTHOR_SOCIAL,
    USER_AUTHOR_TRANSFERS,
    USER_CIRCLE_FRIENDS,
    USER_CIRCLE_TRANSFERS,
    USER_SOCIAL,
    USER_TRANSFERS,
)

# family -> views; the family names are the ones the docs and `features --list` use
FAMILIES: dict[str, tuple[FeatureView, ...]] = {
    "payment behaviour": (USER_PAYMENTS,),
    "credit": (USER_CREDIT,),
    "social": (
        USER_SOCIAL,
        USER_TRANSFERS,
        USER_AUTHOR_SOCIAL,
        USER_AUTHOR_TRANSFERS,
        USER_CIRCLE_FRIENDS,
        USER_CIRCLE_TRANSFERS,
    ),
    "interest match": (CIRCLE_PROFILE, POPULATION_PROFILE, USER_TOPIC_MEMBERSHIPS, CIRCLE_CITIES),
    "engagement history": (
        POST_ENGAGEMENT,
        AUTHOR_ENGAGEMENT,
        CIRCLE_ENGAGEMENT,
        USER_ENGAGEMENT,
        USER_CIRCLE_ENGAGEMENT,
        USER_AUTHOR_ENGAGEMENT,
        USER_TOPIC_ENGAGEMENT,
        CIRCLE_SUGGESTIONS,
        USER_CIRCLE_SUGGESTIONS,
        AUTHOR_ACTIVITY,
        CIRCLE_MEMBERS,
        CIRCLE_POSTS,
        USER_CIRCLE_POSTS,
    ),
    "content": (POST_CONTENT, CIRCLE_INFO, USER_PROFILE),
}
VIEWS: tuple[FeatureView, ...] = tuple(v for views in FAMILIES.values() for v in views)
VIEW_BY_NAME: dict[str, FeatureView] = {v.name: v for v in VIEWS}

# the key columns of each entity, as they appear in request and training rows
ENTITY_KEYS: dict[str, tuple[str, ...]] = {
    "user": ("user_id",),
    "post": ("post_id",),
    "author": ("author_id",),
    "circle": ("circle_id",),
    "user_circle": ("user_id", "circle_id"),
    "user_author": ("user_id", "author_id"),
    "user_topic": ("user_id", "topic"),
    "circle_city": ("circle_id", "city"),
    "population": ("scope",),  # one row: everybody, the baseline of interest lift
}

# which entities describe a candidate on each surface
SURFACE_ENTITIES: dict[str, tuple[str, ...]] = {
    "feed": (
        "user",
        "post",
        "author",
        "circle",
        "user_circle",
        "user_author",
        "user_topic",
        "circle_city",
        "population",
    ),
    "circle_suggestions": (
        "user",
        "circle",
        "user_circle",
        "user_topic",
        "circle_city",
        "population",
    ),
}

assert all(v.keys == ENTITY_KEYS[v.entity] for v in VIEWS), "a view's keys must be its entity's"
assert len(VIEW_BY_NAME) == len(VIEWS), "view names must be unique"

__all__ = [
    "ENTITY_KEYS",
    "FAMILIES",
    "SURFACE_ENTITIES",
    "VECTOR_PREFIX",
    "VIEWS",
    "VIEW_BY_NAME",
    "FeatureView",
    "Streams",
    "ViewParams",
]
