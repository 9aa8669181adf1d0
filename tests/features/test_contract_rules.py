"""Each contract row rule on hand-built rows with a known verdict."""

from __future__ import annotations

import pandas as pd

from features.contract.coerce import TS_DTYPE
from features.contract.rules import judge_rows
from features.contract.schema import table_spec

AS_OF = pd.Timestamp("2026-06-01T00:00:00Z")


def frame(table: str, rows: list[dict[str, object]]) -> pd.DataFrame:
    spec = table_spec(table)
    out = pd.DataFrame(rows, columns=[c.name for c in spec.columns])
    for col in spec.columns:
        if col.kind == "ts":
            out[col.name] = pd.to_datetime(out[col.name], utc=True).astype(TS_DTYPE)
    return out


def reasons(table: str, rows: list[dict[str, object]], parents: dict[str, list[str]]) -> list:
    keys = {name: pd.Index(values) for name, values in parents.items()}
    return judge_rows(frame(table, rows), table_spec(table), keys, AS_OF).reasons.tolist()


def pay(pid: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "payment_id": pid,
        "user_id": "u1",
        "merchant_id": "m1",
        "amount": 10.0,
        "ts": "2026-05-01T00:00:00Z",
    }
    return row | kw


PARENTS = {"users": ["u1", "u2"], "merchants": ["m1"]}


def test_payment_rules_each_give_their_reason() -> None:
    rows = [
        pay("p0"),
        pay("p1", amount=0.0),
        pay("p2", amount=-3.0),
        pay("p3", user_id="ghost"),
        pay("p4", merchant_id="ghost"),
        pay("p5", ts="2026-06-01T00:00:01Z"),
        pay("p6", ts="2026-06-01T00:00:00Z"),  # exactly at as-of is allowed
        pay("p0", amount=99.0),
        pay(None),  # type: ignore[arg-type]
    ]
    assert reasons("payments", rows, PARENTS) == [
        None,
        "out_of_range:amount",
        "out_of_range:amount",
        "unknown_id:user_id",
        "unknown_id:merchant_id",
        "after_as_of:ts",
        None,
        "duplicate_key",
        "missing:payment_id",
    ]


def test_first_valid_row_of_a_key_is_kept() -> None:
    rows = [pay("p0", amount=-1.0), pay("p0"), pay("p0")]
    assert reasons("payments", rows, PARENTS) == ["out_of_range:amount", None, "duplicate_key"]


def test_credit_score_range_is_inclusive() -> None:
    rows = [
        {"user_id": "u1", "ts": f"2026-01-0{i}T00:00:00Z", "score": s}
        for i, s in enumerate([349, 350, 950, 951], start=1)
    ]
    assert reasons("credit_scores", rows, {"users": ["u1"]}) == [
        "out_of_range:score",
        None,
        None,
        "out_of_range:score",
    ]


def event(eid: str, surface: str, item: str, action: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "event_id": eid,
        "ts": "2026-05-01T00:00:00Z",
        "user_id": "u1",
        "surface": surface,
        "item_id": item,
        "action": action,
        "propensity": 0.5,
        "position": 0,
    }
    return row | kw


def test_event_rules_depend_on_the_surface() -> None:
    parents = {"users": ["u1"], "posts": ["p1"], "circles": ["c1"]}
    rows = [
        event("e0", "feed", "p1", "like"),
        event("e1", "circle_suggestions", "c1", "join"),
        event("e2", "feed", "c1", "click"),  # a circle id on the feed surface
        event("e3", "circle_suggestions", "p1", "join"),  # a post id on suggestions
        event("e4", "feed", "p1", "join"),  # join is not a feed action
        event("e5", "search", "p1", "click"),
        event("e6", "feed", "p1", "purchase"),
        event("e7", "feed", "p1", "click", propensity=0.0),
        event("e8", "feed", "p1", "click", propensity=1.0),
        event("e9", "feed", "p1", "click", propensity=1.01),
        event("e10", "feed", "p1", "click", position=-1),
        event("e11", "feed", "p1", "click", propensity=None, position=None),
    ]
    assert reasons("events", rows, parents) == [
        None,
        None,
        "unknown_id:item_id",
        "unknown_id:item_id",
        "unknown_value:action",
        "unknown_value:surface",
        "unknown_value:action",
        "out_of_range:propensity",
        None,
        "out_of_range:propensity",
        "out_of_range:position",
        None,
    ]


def test_absent_parent_table_makes_every_reference_unknown() -> None:
    rows = [event("e0", "feed", "p1", "click"), event("e1", "circle_suggestions", "c1", "join")]
    # posts absent from the data directory: feed events cannot be resolved
    assert reasons("events", rows, {"users": ["u1"], "circles": ["c1"]}) == [
        "unknown_id:item_id",
        None,
    ]


def test_null_optional_foreign_key_passes() -> None:
    rows = [
        {
            "circle_id": "c1",
            "name": "n",
            "topic": "t",
            "created_at": "2026-01-01",
            "creator_id": None,
        },
        {
            "circle_id": "c2",
            "name": "n",
            "topic": "t",
            "created_at": "2026-01-01",
            "creator_id": "x",
        },
    ]
    assert reasons("circles", rows, {"users": ["u1"]}) == [None, "unknown_id:creator_id"]


def test_a_row_with_several_problems_is_counted_once() -> None:
    verdict = judge_rows(
        frame("payments", [pay("p0", amount=-1.0, user_id="ghost", ts="2030-01-01T00:00:00Z")]),
        table_spec("payments"),
        {k: pd.Index(v) for k, v in PARENTS.items()},
        AS_OF,
    )
    assert verdict.counts() == {"out_of_range:amount": 1}
