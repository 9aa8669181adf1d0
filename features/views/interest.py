"""Interest profiles of circles, learned from what their members pay for (not from credit).

A circle's profile is the category share of the payments its members made while
members, by count: how often people pay somewhere says what they are into, while spend
shares are ruled by a few big-ticket categories (an airline ticket outweighs a year of
pet food). The interest-match cross feature compares it with the user's own count
shares. The profile moves slowly, so it is computed as of the start of each UTC day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..pit import Sums, point_in_time, sums_by_level
from ..streams import member_payment_stream, membership_changes, payment_stream
from .base import VECTOR_PREFIX, FeatureView, Streams, ViewParams


def _member_payments(streams: Streams) -> pd.DataFrame:
    def build(s: Streams) -> pd.DataFrame:
        payments = s.get("payments", lambda t: payment_stream(t.data, t.config))
        return member_payment_stream(s.data, payments)

    return streams.get("member_payments", build)


POPULATION = "all"  # the one key of the population entity


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)


def _category_shares(
    stream: pd.DataFrame, queries: pd.DataFrame, key: str, p: ViewParams
) -> np.ndarray:
    cats = p.vocab.categories
    window = pd.Timedelta(days=p.config.profile_days)
    got = sums_by_level(stream, queries, key, "category", cats, ("payments",), (window,))
    return _shares(got[f"payments_{p.config.profile_days}d"])


def _profile(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    shares = _category_shares(stream, queries, "circle_id", p)
    columns = [f"{VECTOR_PREFIX}profile__{c}" for c in p.vocab.categories]
    return pd.DataFrame(shares, columns=columns, index=queries.index)


def _population_payments(streams: Streams) -> pd.DataFrame:
    def build(s: Streams) -> pd.DataFrame:
        daily = _member_payments(s)
        summed = daily.groupby(["category", "ts"], sort=True)["payments"].sum().reset_index()
        return summed.assign(scope=POPULATION)

    return streams.get("population_payments", build)


def _baseline(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    shares = _category_shares(stream, queries, "scope", p)
    columns = [f"{VECTOR_PREFIX}baseline__{c}" for c in p.vocab.categories]
    return pd.DataFrame(shares, columns=columns, index=queries.index)


def _members(streams: Streams) -> pd.DataFrame:
    return streams.get("memberships", lambda s: membership_changes(s.data))


def _topic_members(streams: Streams) -> pd.DataFrame:
    def build(s: Streams) -> pd.DataFrame:
        changes = s.get("memberships", lambda t: membership_changes(t.data))
        topic = s.data["circles"].set_index("circle_id")["topic"]
        out = changes[["user_id", "circle_id", "ts", "members"]].copy()
        out["topic"] = out["circle_id"].map(topic)
        out["joins"] = (out["members"] > 0).astype(np.float64)
        return out[out["topic"].notna()]

    return streams.get("topic_memberships", build)


def _user_topic_members(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    got = point_in_time(stream, queries, ["user_id", "topic"], [Sums(("members", "joins"))])
    return pd.DataFrame(
        {
            "ut_memberships": got["members_all"].to_numpy(),
            "ut_joins_ever": got["joins_all"].to_numpy(),
        },
        index=queries.index,
    )


def _cities(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    rows = stream[stream["city"].notna()][["circle_id", "city", "ts", "members"]]
    got = point_in_time(rows, queries, ["circle_id", "city"], [Sums(("members",))])
    return pd.DataFrame({"cc_members": got["members_all"].to_numpy()}, index=queries.index)


CIRCLE_PROFILE = FeatureView(
    name="circle_profile",
    entity="circle",
    keys=("circle_id",),
    sources=("payments", "merchants", "memberships"),
    description=(
        "Category shares (by count) of members' payments while members over the profile "
        "window: the circle's interest profile (a vector for interest match)."
    ),
    stream=_member_payments,
    aggregate=_profile,
    cadence="day",
)

POPULATION_PROFILE = FeatureView(
    name="population_profile",
    entity="population",
    keys=("scope",),
    sources=("payments", "merchants", "memberships"),
    description=(
        "The same category shares over the members of every circle: the baseline a "
        "circle's profile departs from (a vector for interest lift, which weighs what "
        "sets a circle apart rather than what everybody buys)."
    ),
    stream=_population_payments,
    aggregate=_baseline,
    cadence="day",
)

USER_TOPIC_MEMBERSHIPS = FeatureView(
    name="user_topic_memberships",
    entity="user_topic",
    keys=("user_id", "topic"),
    sources=("memberships",),
    description=(
        "Circles of the topic the user belongs to at t, and has ever joined: interest "
        "shown by what the user chose to join."
    ),
    stream=_topic_members,
    aggregate=_user_topic_members,
)

CIRCLE_CITIES = FeatureView(
    name="circle_cities",
    entity="circle_city",
    keys=("circle_id", "city"),
    sources=("memberships",),
    description="Members of the circle living in a city (for 'popular in <city>').",
    stream=_members,
    aggregate=_cities,
)
