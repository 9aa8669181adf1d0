"""recall@k against hand-computed values."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from circlerank.errors import ConfigError
from training.recall import recall_at_k

# Shuffled rows and gapped ranks: top-k means each user's k lowest ranks.
CANDIDATES = pd.DataFrame(
    [
        ("u2", "e", 4),
        ("u1", "c", 2),
        ("u1", "a", 0),
        ("u4", "z", 0),  # u4 has no positives: not averaged
        ("u2", "d", 1),
        ("u1", "b", 1),
    ],
    columns=["user_id", "item_id", "rank"],
)
POSITIVES = pd.DataFrame(
    [
        ("u1", "b"),
        ("u1", "c"),
        ("u1", "x"),
        ("u1", "b"),  # a repeated positive counts once
        ("u2", "e"),
        ("u3", "y"),  # u3 has positives but no candidates: recall 0
    ],
    columns=["user_id", "item_id"],
)


@pytest.mark.parametrize(
    ("k", "expected"),
    [
        (1, (0 + 0 + 0) / 3),
        (2, (1 / 3 + 1 + 0) / 3),
        (3, (2 / 3 + 1 + 0) / 3),
        (10, (2 / 3 + 1 + 0) / 3),
    ],
)
def test_recall_matches_hand_computation(k: int, expected: float) -> None:
    assert recall_at_k(CANDIDATES, POSITIVES, k) == pytest.approx(expected)


def test_recall_edge_cases() -> None:
    assert math.isnan(recall_at_k(CANDIDATES, POSITIVES.iloc[:0], 5))
    assert recall_at_k(CANDIDATES.iloc[:0], POSITIVES, 5) == 0.0
    with pytest.raises(ConfigError):
        recall_at_k(CANDIDATES, POSITIVES, 0)
