"""Property: for any mix of good and bad rows, nothing is lost and what is accepted obeys
the contract (a reference check written independently of the validator)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract import load_contract

AS_OF = pd.Timestamp("2026-06-01T00:00:00Z")
TIMES = st.sampled_from(
    [
        "2026-01-01T00:00:00Z",
        "2026-05-31T23:59:59Z",
        "2026-06-01T00:00:00Z",
        "2026-06-01T00:00:01Z",
        "2027-01-01T00:00:00Z",
        None,
    ]
)
IDS = st.sampled_from(["a", "b", "c", "007", "ghost", None])


def rows(**columns: st.SearchStrategy) -> st.SearchStrategy[pd.DataFrame]:
    return st.lists(st.fixed_dictionaries(columns), min_size=1, max_size=25).map(pd.DataFrame)


WORLD = st.fixed_dictionaries(
    {
        "users": rows(user_id=IDS, registered_at=TIMES),
        "merchants": rows(merchant_id=IDS, category=st.sampled_from(["pets", "", None])),
        "circles": rows(
            circle_id=IDS,
            name=st.just("n"),
            topic=st.just("t"),
            created_at=TIMES,
            creator_id=IDS,
        ),
        "memberships": rows(user_id=IDS, circle_id=IDS, joined_at=TIMES),
        "posts": rows(post_id=IDS, circle_id=IDS, author_id=IDS, created_at=TIMES),
        "payments": rows(
            payment_id=IDS,
            user_id=IDS,
            merchant_id=IDS,
            ts=TIMES,
            amount=st.one_of(st.none(), st.floats(-5, 5, allow_nan=False)),
        ),
        "credit_scores": rows(
            user_id=IDS, ts=TIMES, score=st.one_of(st.none(), st.integers(300, 1000))
        ),
        "events": rows(
            event_id=IDS,
            ts=TIMES,
            user_id=IDS,
            item_id=IDS,
            surface=st.sampled_from(["feed", "circle_suggestions", "search", None]),
            action=st.sampled_from(["impression", "click", "join", "dismiss", "buy", None]),
            propensity=st.one_of(st.none(), st.floats(-0.5, 1.5, allow_nan=False)),
        ),
    }
)

PRIMARY = {
    "users": ["user_id"],
    "merchants": ["merchant_id"],
    "circles": ["circle_id"],
    "memberships": ["user_id", "circle_id", "joined_at"],
    "payments": ["payment_id"],
    "posts": ["post_id"],
    "credit_scores": ["user_id", "ts"],
    "events": ["event_id"],
}
REFERENCES = {
    ("payments", "user_id"): "users",
    ("payments", "merchant_id"): "merchants",
    ("memberships", "user_id"): "users",
    ("memberships", "circle_id"): "circles",
    ("credit_scores", "user_id"): "users",
    ("events", "user_id"): "users",
    ("posts", "circle_id"): "circles",
    ("posts", "author_id"): "users",
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=WORLD, fmt=st.sampled_from(["csv", "parquet"]))
def test_accepted_plus_quarantined_equals_read(world: dict[str, pd.DataFrame], fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        for name, frame in world.items():
            if fmt == "csv":
                frame.to_csv(data_dir / f"{name}.csv", index=False)
            else:
                frame.to_parquet(data_dir / f"{name}.parquet", index=False)
        data = load_contract(data_dir, as_of=AS_OF)
        for name, frame in world.items():
            report = data.report.tables[name]
            assert report.read == len(frame)
            assert report.accepted + report.quarantined == report.read
            assert sum(report.reasons.values()) == report.quarantined
            assert len(data[name]) == report.accepted
            q = pd.read_parquet(data_dir / "_quarantine" / f"{name}.parquet")
            assert len(q) == report.quarantined
            assert q["row"].is_unique

            accepted = data[name]
            assert not accepted.duplicated(PRIMARY[name]).any()
            for col in PRIMARY[name]:
                assert accepted[col].notna().all()
            for col in [c for c in accepted.columns if c in ("ts", "joined_at")]:
                assert (accepted[col] <= AS_OF).all()
        for (child, column), parent in REFERENCES.items():
            keys = set(data[parent][PRIMARY[parent][0]])
            assert set(data[child][column].dropna()) <= keys
        events = data["events"]
        on_feed = events["surface"] == "feed"
        assert set(events.loc[on_feed, "item_id"]) <= set(data["posts"]["post_id"])
        assert set(events.loc[~on_feed, "item_id"]) <= set(data["circles"]["circle_id"])
        assert set(events.loc[on_feed, "action"]) <= {"impression", "click"}
        assert set(events.loc[~on_feed, "action"]) <= {"impression", "join", "dismiss"}
        assert set(events["surface"]) <= {"feed", "circle_suggestions"}
        propensity = events["propensity"].dropna()
        assert ((propensity > 0) & (propensity <= 1)).all()
