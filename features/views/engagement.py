"""Engagement history: what people did with posts, authors, circles and topics before t.

Counts of impressions and actions (all history and time-decayed), with smoothed rates
that shrink toward a prior when there is little data, for posts, authors, circles,
users, and the pairs user x circle, user x author and user x topic.
"""

from __future__ import annotations

import pandas as pd

from ..pit import DecayedSums, Sums, point_in_time, window_name
from ..streams import feed_event_stream, suggestion_event_stream
from .base import Aggregate, FeatureView, Streams, ViewParams

FULL = ("impression", "click", "like", "comment", "share", "hide", "report")
SHORT = ("impression", "click", "hide")


def _feed(streams: Streams) -> pd.DataFrame:
    return streams.get("feed_events", lambda s: feed_event_stream(s.data))


def _suggestions(streams: Streams) -> pd.DataFrame:
    return streams.get("suggestion_events", lambda s: suggestion_event_stream(s.data))


def engagement(prefix: str, keys: tuple[str, ...], actions: tuple[str, ...]) -> Aggregate:
    """An aggregate of feed actions per key: counts, decayed clicks, smoothed rates."""

    def aggregate(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
        cfg = p.config
        rows = stream[[*keys, "ts", *actions]]
        got = point_in_time(
            rows,
            queries,
            list(keys),
            [Sums(actions), DecayedSums(("impression", "click"), cfg.half_life)],
            reference=p.reference,
        )
        decay = window_name(cfg.half_life)
        shown = got["impression_all"].to_numpy()
        out = {f"{prefix}_{a}s": got[f"{a}_all"].to_numpy() for a in actions}
        out[f"{prefix}_clicks_decayed"] = got[f"click_decay{decay}"].to_numpy()
        out[f"{prefix}_ctr"] = cfg.smoothed(got["click_all"].to_numpy(), shown)
        out[f"{prefix}_ctr_decayed"] = cfg.smoothed(
            got[f"click_decay{decay}"].to_numpy(), got[f"impression_decay{decay}"].to_numpy()
        )
        out[f"{prefix}_hide_rate"] = cfg.smoothed(got["hide_all"].to_numpy(), shown)
        if "like" in actions:
            active = got["like_all"] + got["comment_all"] + got["share_all"]
            out[f"{prefix}_engage_rate"] = cfg.smoothed(active.to_numpy(), shown)
        return pd.DataFrame(out, index=queries.index)

    return aggregate


def _suggestion_history(prefix: str, keys: tuple[str, ...]) -> Aggregate:
    def aggregate(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
        cols = ("sugg_impression", "sugg_join", "sugg_dismiss")
        got = point_in_time(stream[[*keys, "ts", *cols]], queries, list(keys), [Sums(cols)])
        shown = got["sugg_impression_all"].to_numpy()
        return pd.DataFrame(
            {
                f"{prefix}_sugg_impressions": shown,
                f"{prefix}_sugg_dismissals": got["sugg_dismiss_all"].to_numpy(),
                f"{prefix}_sugg_join_rate": p.config.smoothed(
                    got["sugg_join_all"].to_numpy(), shown
                ),
            },
            index=queries.index,
        )

    return aggregate


def _view(
    name: str, entity: str, keys: tuple[str, ...], prefix: str, actions: tuple[str, ...], what: str
) -> FeatureView:
    return FeatureView(
        name=name,
        entity=entity,
        keys=keys,
        sources=("events", "posts"),
        description=(
            f"Feed history of {what}: {', '.join(actions)} counts, decayed clicks, "
            "smoothed click and hide rates"
            + (", and the engagement rate." if "like" in actions else ".")
        ),
        stream=_feed,
        aggregate=engagement(prefix, keys, actions),
    )


POST_ENGAGEMENT = _view("post_engagement", "post", ("post_id",), "post", FULL, "the post")
AUTHOR_ENGAGEMENT = _view(
    "author_engagement", "author", ("author_id",), "author", FULL, "the author's posts"
)
CIRCLE_ENGAGEMENT = _view(
    "circle_engagement", "circle", ("circle_id",), "circle", FULL, "the circle's posts"
)
USER_ENGAGEMENT = _view(
    "user_engagement", "user", ("user_id",), "user", SHORT, "everything the user was shown"
)
USER_CIRCLE_ENGAGEMENT = _view(
    "user_circle_engagement",
    "user_circle",
    ("user_id", "circle_id"),
    "uc",
    SHORT,
    "the user in this circle",
)
USER_AUTHOR_ENGAGEMENT = _view(
    "user_author_engagement",
    "user_author",
    ("user_id", "author_id"),
    "ua",
    SHORT,
    "the user with this author",
)
USER_TOPIC_ENGAGEMENT = _view(
    "user_topic_engagement",
    "user_topic",
    ("user_id", "topic"),
    "ut",
    SHORT,
    "the user on this topic",
)

CIRCLE_SUGGESTIONS = FeatureView(
    name="circle_suggestion_history",
    entity="circle",
    keys=("circle_id",),
    sources=("events",),
    description="How often the circle was suggested, dismissed, and its smoothed join rate.",
    stream=_suggestions,
    aggregate=_suggestion_history("circle", ("circle_id",)),
)

USER_CIRCLE_SUGGESTIONS = FeatureView(
    name="user_circle_suggestion_history",
    entity="user_circle",
    keys=("user_id", "circle_id"),
    sources=("events",),
    description="How often this circle was suggested to this user, dismissed, and joined.",
    stream=_suggestions,
    aggregate=_suggestion_history("uc", ("user_id", "circle_id")),
)
