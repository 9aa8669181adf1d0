"""docs/data-contract.md is what the schema renders, and says what the code does."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import get_args

import pandas as pd

from features.contract.document import KIND_TEXT, REASONS, REGENERATE, render
from features.contract.reader import read_table
from features.contract.rules import DUPLICATE_KEY, judge_rows
from features.contract.schema import TABLE_BY_NAME, TABLES, ColumnKind

PAGE = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"


def test_the_page_is_what_the_schema_renders() -> None:
    assert PAGE.is_file(), f"{PAGE} is missing; create it with: {REGENERATE}"
    assert PAGE.read_text(encoding="utf-8") == render(), (
        f"docs/data-contract.md differs from what features/contract/schema.py renders; "
        f"regenerate it with: {REGENERATE}"
    )


def test_every_table_column_and_type_is_described() -> None:
    assert [t.name for t in TABLES if not t.about] == []
    assert [f"{t.name}.{c.name}" for t in TABLES for c in t.columns if not c.meaning] == []
    assert set(KIND_TEXT) == set(get_args(ColumnKind))


# the change to a valid events row that breaks each rule, each in a column of its own
BREAKS = {
    "missing:<column>": ("user_id", ""),
    "out_of_range:<column>": ("propensity", "2"),
    "unknown_value:<column>": ("action", "nope"),
    "after_as_of:<column>": ("ts", "2030-01-01T00:00:00Z"),
    "unknown_id:<column>": ("item_id", "p-unknown"),
    DUPLICATE_KEY: ("event_id", "e0"),
}


def test_reasons_are_listed_in_the_order_rules_give_them(tmp_path: Path) -> None:
    assert list(BREAKS) == [code for code, _ in REASONS]
    valid = {
        "event_id": "e0",
        "ts": "2026-03-01T10:00:00Z",
        "user_id": "u1",
        "surface": "feed",
        "item_id": "p1",
        "action": "click",
        "propensity": "0.5",
    }
    rows, expected = [valid], []
    # each break alone, then each pair: the row gets the reason listed first
    for n, codes in enumerate([*combinations(BREAKS, 1), *combinations(BREAKS, 2)], start=1):
        rows.append(valid | {"event_id": f"e{n}"} | dict(BREAKS[code] for code in codes))
        expected.append(codes[0].replace("<column>", BREAKS[codes[0]][0]))
    path = tmp_path / "events.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    spec = TABLE_BY_NAME["events"]
    parents = {name: pd.Index([f"{name[0]}1"]) for name in ("users", "posts", "circles")}
    verdict = judge_rows(
        read_table(path, spec), spec, parents, pd.Timestamp("2026-04-01", tz="UTC")
    )
    assert verdict.accepted[0] and list(verdict.reasons[1:]) == expected
