"""A minimal valid data directory (the three always-required tables), for unit tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_minimal(d: Path, fmt: str = "csv", **overrides: pd.DataFrame) -> None:
    tables = {
        "users": pd.DataFrame(
            {"user_id": ["007", "u2"], "registered_at": ["2026-01-01T00:00:00", "2026-01-02"]}
        ),
        "circles": pd.DataFrame(
            {
                "circle_id": ["c1"],
                "name": ["Overseas Life"],
                "topic": ["overseas_life"],
                "created_at": ["2026-01-01T00:00:00Z"],
            }
        ),
        "memberships": pd.DataFrame(
            {"user_id": ["007"], "circle_id": ["c1"], "joined_at": ["2026-02-01T08:00:00+08:00"]}
        ),
    }
    tables.update(overrides)
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(d / f"{name}.csv", index=False)
        else:
            frame.to_parquet(d / f"{name}.parquet", index=False)
