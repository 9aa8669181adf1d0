"""No ineligible circle is ever suggested, whatever the scores and gates; and every
eligible circle the user has not joined is still offered (never an empty page while
eligible items exist)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from features.contract import ContractData
from features.contract.report import ValidationReport
from ranking.catalog import Catalog
from ranking.components import RankContext
from ranking.pipeline import Pipeline
from ranking.strategy import Strategy

T = pd.Timestamp("2026-03-01T00:00:00Z")
SCORES = st.one_of(st.none(), st.integers(300, 850))


def world(scores: list[int | None], gates: list[int | None], member: list[bool]) -> ContractData:
    users = [f"u{i}" for i in range(len(scores))]
    circles = [f"c{i}" for i in range(len(gates))]
    rated = [(u, s) for u, s in zip(users, scores, strict=True) if s is not None]
    joined = [(users[0], c) for c, m in zip(circles, member, strict=False) if m]
    tables = {
        "users": pd.DataFrame({"user_id": users, "registered_at": T, "city": "Hangzhou"}),
        "circles": pd.DataFrame(
            {
                "circle_id": circles,
                "topic": "pets",
                "created_at": T - pd.Timedelta(days=30),
                "min_credit_score": pd.array(gates, dtype="Float64").astype("float64"),
            }
        ),
        "memberships": pd.DataFrame(
            {
                "user_id": [u for u, _ in joined],
                "circle_id": [c for _, c in joined],
                "joined_at": T - pd.Timedelta(days=1),
                "left_at": pd.Series([pd.NaT] * len(joined), dtype="datetime64[us, UTC]"),
            }
        ),
        "credit_scores": pd.DataFrame(
            {
                "user_id": [u for u, _ in rated],
                "ts": T - pd.Timedelta(days=1),
                "score": [s for _, s in rated],
            }
        ),
    }
    return ContractData(tables, ValidationReport(as_of=T, quarantine_dir=""))


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(SCORES, min_size=1, max_size=6),
    gates=st.lists(SCORES, min_size=1, max_size=8),
    member=st.lists(st.booleans(), max_size=8),
)
def test_no_ineligible_circle_and_every_eligible_one(
    scores: list[int | None], gates: list[int | None], member: list[bool]
) -> None:
    data = world(scores, gates, member)
    strategy = Strategy(
        name="gate",
        surface="circle_suggestions",
        sources=("all_circles",),
        filters=("live_circle", "not_member", "credit_gate"),
        scorer="popularity",
    )
    ctx = RankContext("circle_suggestions", Catalog(data, T), features=None, bundle=None)
    users = data["users"]["user_id"].to_numpy(dtype=object)

    ranked = Pipeline(strategy).run(ctx, users, limit=len(gates)).ranked

    score = dict(zip(users, scores, strict=True))
    gate = dict(zip(data["circles"]["circle_id"], gates, strict=True))
    joined = set(data["memberships"]["circle_id"])
    shown = set(zip(ranked["user_id"], ranked["item_id"], strict=True))
    for user in users:
        for circle, needed in gate.items():
            eligible = needed is None or (score[user] is not None and score[user] >= needed)
            new_to_user = not (user == users[0] and circle in joined)
            assert ((user, circle) in shown) == (eligible and new_to_user), (user, circle)
    assert np.isin(ranked["item_id"], list(gate)).all()
