"""Entity attributes as of t: a post's media and origin, a circle's gate, a user's tenure.

Attributes come from the entity's own row, known from its creation time on, through the
same point-in-time lookup as everything else (an entity created at or after t is unknown).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..pit import Latest, days, point_in_time
from .base import FeatureView, Streams, ViewParams

MEDIA = ("text", "image", "video")


def _flag(values: pd.Series) -> np.ndarray:
    return values.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)


def _posts(streams: Streams) -> pd.DataFrame:
    posts = streams.data["posts"]
    out = pd.DataFrame(
        {
            "post_id": posts["post_id"],
            "ts": posts["created_at"],
            "created_day": days(posts["created_at"]),
        }
    )
    for m in MEDIA:
        out[f"media_{m}"] = (posts["media_type"] == m).to_numpy(dtype=np.float64)
    out["official"] = _flag(posts["is_official"].fillna(False))
    return out


def _post(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    cols = ("created_day", *(f"media_{m}" for m in MEDIA), "official")
    got = point_in_time(stream, queries, ["post_id"], [Latest(cols)])
    out = got.rename(columns={f"{c}_latest": f"post_{c}" for c in cols})
    return out.rename(columns={"post_official": "post_is_official"})


def _circles(streams: Streams) -> pd.DataFrame:
    c = streams.data["circles"]
    return pd.DataFrame(
        {
            "circle_id": c["circle_id"],
            "ts": c["created_at"],
            "created_day": days(c["created_at"]),
            "official": _flag(c["is_official"].fillna(False)),
            "gate": c["min_credit_score"]
            .astype("float64")
            .to_numpy(dtype=np.float64, na_value=np.nan),
        }
    )


def _circle(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    got = point_in_time(
        stream, queries, ["circle_id"], [Latest(("created_day", "official", "gate"))]
    )
    return pd.DataFrame(
        {
            "circle_age_days": days(queries["as_of"]) - got["created_day_latest"].to_numpy(),
            "circle_is_official": got["official_latest"].to_numpy(),
            "circle_gated": (got["gate_latest"].to_numpy() > 0).astype(np.float64),
        },
        index=queries.index,
    )


def _users(streams: Streams) -> pd.DataFrame:
    u = streams.data["users"]
    return pd.DataFrame(
        {
            "user_id": u["user_id"],
            "ts": u["registered_at"],
            "registered_day": days(u["registered_at"]),
            "birth_year": u["birth_year"]
            .astype("float64")
            .to_numpy(dtype=np.float64, na_value=np.nan),
            "student": _flag(u["is_student"]),
        }
    )


def _user(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    got = point_in_time(
        stream, queries, ["user_id"], [Latest(("registered_day", "birth_year", "student"))]
    )
    now = days(queries["as_of"])
    return pd.DataFrame(
        {
            "user_tenure_days": now - got["registered_day_latest"].to_numpy(),
            "user_age_years": now / 365.25 + 1970.0 - got["birth_year_latest"].to_numpy(),
            "user_is_student": got["student_latest"].to_numpy(),
        },
        index=queries.index,
    )


POST_CONTENT = FeatureView(
    name="post_content",
    entity="post",
    keys=("post_id",),
    sources=("posts",),
    description=(
        "Creation day (post age is computed at request time), media type, official or member-made."
    ),
    stream=_posts,
    aggregate=_post,
)

CIRCLE_INFO = FeatureView(
    name="circle_info",
    entity="circle",
    keys=("circle_id",),
    sources=("circles",),
    description="Circle age, run by the platform or not, whether a credit gate applies.",
    stream=_circles,
    aggregate=_circle,
)

USER_PROFILE = FeatureView(
    name="user_profile",
    entity="user",
    keys=("user_id",),
    sources=("users",),
    description="Days since registration, age, student flag.",
    stream=_users,
    aggregate=_user,
)
