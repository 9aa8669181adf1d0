"""Payment behaviour (user): where, how much and how often a user pays.

Interests show up in merchant categories (pet stores, campus canteens, duty-free), so
these views carry the engine's main relevance signal. Category shares are vectors that
feed the interest-match cross feature; the scalars feed the models directly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..pit import Latest, Sums, point_in_time, sums_by_level, window_name
from ..streams import payment_stream
from .base import VECTOR_PREFIX, FeatureView, Streams, ViewParams


def _payments(streams: Streams) -> pd.DataFrame:
    return streams.get("payments", lambda s: payment_stream(s.data, s.config))


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(whole > 0, part / np.where(whole > 0, whole, 1.0), 0.0)


def _aggregate(stream: pd.DataFrame, queries: pd.DataFrame, p: ViewParams) -> pd.DataFrame:
    cfg, cats = p.config, p.vocab.categories
    base = ("payments", "spend", "overseas_spend", "campus_spend")
    windows = cfg.windows
    sums = point_in_time(
        stream.assign(last_ts=(stream["ts"] - p.reference) / pd.Timedelta(days=1)),
        queries,
        ["user_id"],
        [Sums(base, windows), Sums(("new_merchant",)), Latest(("last_ts",))],
        reference=p.reference,
    )
    out: dict[str, np.ndarray] = {}
    for w in windows:
        n = window_name(w)
        out[f"pay_count_{n}"] = sums[f"payments_{n}"].to_numpy()
        out[f"pay_spend_{n}"] = sums[f"spend_{n}"].to_numpy()
    longest = window_name(windows[-1])
    spend = sums[f"spend_{longest}"].to_numpy()
    out[f"pay_overseas_share_{longest}"] = _share(
        sums[f"overseas_spend_{longest}"].to_numpy(), spend
    )
    out[f"pay_campus_share_{longest}"] = _share(sums[f"campus_spend_{longest}"].to_numpy(), spend)
    out["pay_distinct_merchants"] = sums["new_merchant_all"].to_numpy()
    as_of_days = ((queries["as_of"] - p.reference) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    out["pay_days_since_last"] = as_of_days - sums["last_ts_latest"].to_numpy()
    month = pd.Timedelta(days=30)
    if month in windows:
        out["pay_per_day_30d"] = out["pay_count_30d"] / 30.0
    # category shares per window, of spend and of count: only the ones asked for
    shares = [
        (kind, value, w)
        for w in windows
        for kind, value in (("spend", "spend"), ("count", "payments"))
        if any(p.wants(f"{VECTOR_PREFIX}{kind}_{window_name(w)}__{c}") for c in cats)
    ]
    if shares:
        per_cat = sums_by_level(
            stream,
            queries,
            "user_id",
            "category",
            cats,
            tuple(v for v in ("payments", "spend") if any(v == s[1] for s in shares)),
            tuple(w for w in windows if any(w == s[2] for s in shares)),
        )
    for kind, value, w in shares:
        n = window_name(w)
        share = _share(per_cat[f"{value}_{n}"], sums[f"{value}_{n}"].to_numpy()[:, None])
        for i, cat in enumerate(cats):
            column = f"{VECTOR_PREFIX}{kind}_{n}__{cat}"
            if p.wants(column):
                out[column] = share[:, i]
    return pd.DataFrame(out, index=queries.index)


USER_PAYMENTS = FeatureView(
    name="user_payments",
    entity="user",
    keys=("user_id",),
    sources=("payments", "merchants"),
    description=(
        "Payment behaviour: count and spend per window, overseas and campus spend shares, "
        "distinct merchants, days since the last payment, payments per day, and spend and "
        "count shares per merchant category per window (vectors for interest match)."
    ),
    stream=_payments,
    aggregate=_aggregate,
)
