"""Interest profiles of circles, learned from what their members pay for (not from credit).

A circle's profile is the category spend share of payments its members made while
members; the interest-match cross feature compares it with the user's own spend shares.
The profile moves slowly, so it is computed as of the start of each UTC day.
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


def _profile(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    cats = p.vocab.categories
    window = pd.Timedelta(days=p.config.profile_days)
    got = sums_by_level(stream, queries, "circle_id", "category", cats, ("spend",), (window,))
    spend = got[f"spend_{p.config.profile_days}d"]
    total = spend.sum(axis=1, keepdims=True)
    shares = np.divide(spend, total, out=np.zeros_like(spend), where=total > 0)
    return pd.DataFrame(
        shares, columns=[f"{VECTOR_PREFIX}profile__{c}" for c in cats], index=queries.index
    )


def _members(streams: Streams) -> pd.DataFrame:
    return streams.get("memberships", lambda s: membership_changes(s.data))


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
        "Category spend shares of members' payments while members over the profile "
        "window: the circle's interest profile (a vector for interest match)."
    ),
    stream=_member_payments,
    aggregate=_profile,
    cadence="day",
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
