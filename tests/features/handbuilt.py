"""A tiny world whose feature values are worked out by hand in the tests.

Day d means 2026-03-01 + d days at 00:00 UTC. u1 pays at a pet store, an airline in
Japan and a campus canteen; u2 is u1's friend and a member of the pets circle.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.contract import ContractData, load_contract

T0 = pd.Timestamp("2026-03-01T00:00:00Z")


def day(d: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=d)


def tables() -> dict[str, pd.DataFrame]:
    return {
        "users": pd.DataFrame(
            {
                "user_id": ["u1", "u2", "u3", "official"],
                "registered_at": [day(-100), day(-50), day(-10), day(-400)],
                "city": ["Hangzhou", "Hangzhou", "Shanghai", "Hangzhou"],
                "birth_year": [2004, 1990, 1985, None],
                "is_student": [True, False, False, None],
            }
        ),
        "merchants": pd.DataFrame(
            {
                "merchant_id": ["m_pet", "m_air", "m_can", "m_groc"],
                "category": ["pet_store", "airline", "campus_canteen", "grocery"],
                "city": ["Hangzhou", "Tokyo", "Hangzhou", "Hangzhou"],
                "country": ["CN", "JP", "CN", "CN"],
            }
        ),
        "payments": pd.DataFrame(
            {
                "payment_id": [f"pay{i}" for i in range(6)],
                "user_id": ["u1", "u1", "u1", "u1", "u2", "u2"],
                "merchant_id": ["m_pet", "m_air", "m_can", "m_pet", "m_pet", "m_groc"],
                "amount": [100.0, 300.0, 50.0, 50.0, 80.0, 20.0],
                "ts": [day(1), day(5), day(20), day(40), day(3), day(8)],
                "country": ["CN", "JP", "CN", "CN", "CN", "CN"],
            }
        ),
        "credit_scores": pd.DataFrame(
            {
                "user_id": ["u1", "u1", "u1"],
                "ts": [day(0), day(10), day(30)],
                "score": [600, 700, 750],
            }
        ),
        "social_edges": pd.DataFrame(
            {
                "user_id": ["u1", "u1"],
                "other_id": ["u2", "u3"],
                "created_at": [day(2), day(3)],
                "kind": ["friend", "follow"],
            }
        ),
        "transfers": pd.DataFrame(
            {
                "transfer_id": ["t1", "t2"],
                "sender_id": ["u1", "u2"],
                "receiver_id": ["u2", "u1"],
                "amount": [10.0, 20.0],
                "ts": [day(4), day(6)],
            }
        ),
        "circles": pd.DataFrame(
            {
                "circle_id": ["c_pets", "c_air"],
                "name": ["Pet Lovers", "Overseas Life"],
                "topic": ["pets", "overseas_life"],
                "created_at": [day(-200), day(-30)],
                "creator_id": ["u2", None],
                "min_credit_score": [None, 700],
                "is_official": [False, True],
            }
        ),
        "memberships": pd.DataFrame(
            {
                "user_id": ["u2", "u1"],
                "circle_id": ["c_pets", "c_pets"],
                "joined_at": [day(1), day(3)],
                "left_at": [day(20), None],
            }
        ),
        "posts": pd.DataFrame(
            {
                "post_id": ["p1", "p2"],
                "circle_id": ["c_pets", "c_pets"],
                "author_id": ["u2", "official"],
                "created_at": [day(5), day(6)],
                "media_type": ["image", "text"],
                "is_official": [False, True],
            }
        ),
        "events": pd.DataFrame(
            {
                "event_id": [f"e{i}" for i in range(7)],
                "ts": [
                    day(7) + pd.Timedelta(hours=10),
                    day(7) + pd.Timedelta(hours=10, minutes=1),
                    day(7) + pd.Timedelta(hours=10, minutes=2),
                    day(7) + pd.Timedelta(hours=10),
                    day(7) + pd.Timedelta(hours=10, minutes=1),
                    day(8),
                    day(8),
                ],
                "user_id": ["u1", "u1", "u1", "u1", "u1", "u3", "u3"],
                "surface": ["feed"] * 6 + ["circle_suggestions"],
                "item_id": ["p1", "p1", "p1", "p2", "p2", "p1", "c_air"],
                "action": [
                    "impression",
                    "click",
                    "like",
                    "impression",
                    "hide",
                    "impression",
                    "impression",
                ],
            }
        ),
    }


def load(directory: Path, drop: tuple[str, ...] = ()) -> ContractData:
    for name, frame in tables().items():
        if name not in drop:
            frame.to_parquet(directory / f"{name}.parquet", index=False)
    return load_contract(directory, as_of=day(100), quarantine_dir=directory / "q")
