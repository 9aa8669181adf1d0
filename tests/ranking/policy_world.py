"""A tiny world for feed-policy tests: one viewer (u1) and posts that each trip exactly
one filter. Day d means 2026-03-01 + d days; requests are as of day 10, so the 7-day
freshness window holds posts created from day 3.

    p_ok      c1, by u3, day 9                      kept by every filter
    p_seen    c1, by u2, day 8, u1 saw it on day 9   already_seen (3 days)
    p_seen_5d c1, by u3, day 4, u1 saw it on day 5   kept: seen before the window
    p_hidden  c1, by u3, day 8, u1 hid it on day 9   hidden
    p_h1/p_h2 c1, by u4, hidden and reported by u1   hidden (and their author twice)
    p_u4      c1, by u4, day 9                       hidden_author
    p_deleted c1, by u2, day 8, deleted on day 9     deleted_post
    p_left    c2, by u2, day 8; u1 left c2 on day 5  left_circle
    p_own     c1, by u1, day 8                       live_post (the user's own)
    p_stale   c1, by u2, day 1                       live_post (outside freshness)

Suggestions: u1's score is 650; c3 asks for 700; u1 dismissed c3 on day 8 and c4 on
day -40 (outside a 30-day window); u1 belongs to c1.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.contract import ContractData, load_contract

T0 = pd.Timestamp("2026-03-01T00:00:00Z")
AS_OF_DAY = 10.0


def day(d: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(days=d)


POSTS = {
    # post_id: (circle, author, created day, deleted day or None, official)
    "p_ok": ("c1", "u3", 9, None, False),
    "p_seen": ("c1", "u2", 8, None, False),
    "p_seen_5d": ("c1", "u3", 4, None, False),
    "p_hidden": ("c1", "u3", 8, None, False),
    "p_h1": ("c1", "u4", 4, None, False),
    "p_h2": ("c1", "u4", 5, None, False),
    "p_u4": ("c1", "u4", 9, None, False),
    "p_deleted": ("c1", "u2", 8, 9, False),
    "p_left": ("c2", "u2", 8, None, False),
    "p_own": ("c1", "u1", 8, None, False),
    "p_stale": ("c1", "u2", 1, None, False),
    "p_official": ("c1", "official", 9, None, True),
}

# (day, user, surface, item, action)
EVENTS = [
    (9, "u1", "feed", "p_seen", "impression"),
    (5, "u1", "feed", "p_seen_5d", "impression"),
    (9, "u1", "feed", "p_hidden", "impression"),
    (9.1, "u1", "feed", "p_hidden", "hide"),
    (5, "u1", "feed", "p_h1", "impression"),
    (5.1, "u1", "feed", "p_h1", "hide"),
    (6, "u1", "feed", "p_h2", "impression"),
    (6.1, "u1", "feed", "p_h2", "report"),
    (8, "u1", "circle_suggestions", "c3", "impression"),
    (8.1, "u1", "circle_suggestions", "c3", "dismiss"),
    (-40, "u1", "circle_suggestions", "c4", "impression"),
    (-39.9, "u1", "circle_suggestions", "c4", "dismiss"),
]


def tables(events: list[tuple[float, str, str, str, str]] = EVENTS) -> dict[str, pd.DataFrame]:
    users = ["u1", "u2", "u3", "u4", "official"]
    posts = pd.DataFrame(
        [
            (pid, c, a, day(created), day(deleted) if deleted is not None else None, official)
            for pid, (c, a, created, deleted, official) in POSTS.items()
        ],
        columns=["post_id", "circle_id", "author_id", "created_at", "deleted_at", "is_official"],
    )
    posts["media_type"] = "text"
    return {
        "users": pd.DataFrame(
            {
                "user_id": users,
                "registered_at": [day(-100)] * len(users),
                "city": ["Hangzhou"] * len(users),
            }
        ),
        "circles": pd.DataFrame(
            {
                "circle_id": ["c1", "c2", "c3", "c4"],
                "name": ["One", "Two", "Three", "Four"],
                "topic": ["pets", "travel", "finance", "food"],
                "created_at": [day(-200), day(-200), day(-200), day(-100)],
                "min_credit_score": [None, None, 700, None],
                "is_official": [False, False, False, False],
            }
        ),
        "memberships": pd.DataFrame(
            {
                "user_id": ["u1", "u1", "u2", "u3", "u4", "u2"],
                "circle_id": ["c1", "c2", "c1", "c1", "c1", "c2"],
                "joined_at": [day(-50), day(1), day(-50), day(-50), day(-50), day(-50)],
                "left_at": [None, day(5), None, None, None, None],
            }
        ),
        "credit_scores": pd.DataFrame({"user_id": ["u1"], "ts": [day(-1)], "score": [650]}),
        "posts": posts,
        "events": pd.DataFrame(
            [
                (f"e{i}", day(d), user, surface, item, action)
                for i, (d, user, surface, item, action) in enumerate(events)
            ],
            columns=["event_id", "ts", "user_id", "surface", "item_id", "action"],
        ),
    }


def load(directory: Path, events: list[tuple[float, str, str, str, str]] = EVENTS) -> ContractData:
    for name, frame in tables(events).items():
        frame.to_parquet(directory / f"{name}.parquet", index=False)
    data = load_contract(directory, as_of=day(AS_OF_DAY), quarantine_dir=directory / "q")
    assert data.report.quarantined == 0, data.report.render_text()
    return data
