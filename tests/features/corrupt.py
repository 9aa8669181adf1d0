"""Plant every kind of bad row the contract names into a valid world, with known reasons.

The plan is derived from the schema itself (every required column, range, allowed set,
timestamp column and foreign key of every table), so a rule added to the schema is
covered without touching the tests. Each planted row differs from a valid template
row in exactly one way and carries a fresh primary key, so it has exactly one reason
and takes no other row with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract.rules import DUPLICATE_KEY
from features.contract.schema import TABLES, Allowed, Range, TableSpec


@dataclass(frozen=True)
class Planted:
    table: str
    reason: str
    row: dict[str, object]


def _violations(rule: Range, integral: bool) -> list[float]:
    """Values just outside and far outside the interval (integers for integer columns)."""
    far = 50 if integral else 7.5
    values = []
    if rule.low is not None:
        values += [rule.low if rule.low_open else rule.low - 1, rule.low - far]
    if rule.high is not None:
        values += [rule.high if rule.high_open else rule.high + 1, rule.high + far]
    return values


def _bad_values(rule: Allowed) -> list[str]:
    if rule.by is None:
        return [f"not_a_{rule.column}"]
    groups = sorted(rule.values_by)
    # a value valid on another group is still wrong on this one
    foreign = sorted(rule.values_by[groups[1]] - rule.values_by[groups[0]])[0]
    return [f"not_a_{rule.column}", foreign]


class _Keys:
    """Fresh primary keys per table that collide with nothing in the world."""

    def __init__(self, world: dict[str, pd.DataFrame]) -> None:
        self.world = world
        self.used: set[tuple[object, ...]] = set()
        self.counter = 0

    def fresh(self, spec: TableSpec, row: dict[str, object]) -> dict[str, object]:
        self.counter += 1
        row = dict(row)
        key = spec.primary_key
        if len(key) == 1:
            row[key[0]] = f"planted_{spec.name}_{self.counter}"
            return row
        ts_cols = [c for c in key if c in spec.timestamp_columns]
        if ts_cols:
            shift = pd.Timedelta(seconds=self.counter)
            row[ts_cols[0]] = pd.Timestamp(row[ts_cols[0]]) - shift  # type: ignore[operator]
            return row
        users = self.world["users"]["user_id"].tolist()
        existing = set(map(tuple, self.world[spec.name][list(key)].astype(str).to_numpy()))
        for a in users:
            for b in users:
                candidate = (a, b, row.get("kind"))
                if a != b and candidate not in existing and candidate not in self.used:
                    self.used.add(candidate)
                    row["user_id"], row["other_id"] = a, b
                    return row
        raise RuntimeError("world too small to find a fresh social edge")


def _templates(spec: TableSpec, frame: pd.DataFrame) -> dict[object, dict[str, object]]:
    """One valid row per value of a foreign key's `when` column (or a single row)."""
    whens = {fk.when[0] for fk in spec.foreign_keys if fk.when}
    if not whens:
        return {None: frame.iloc[0].to_dict()}
    (column,) = whens
    return {v: g.iloc[0].to_dict() for v, g in frame.groupby(column, sort=True)}


def plan(world: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> list[Planted]:
    """Bad rows for every rule of every table, each with the reason it must get."""
    keys = _Keys(world)
    out: list[Planted] = []
    for spec in TABLES:
        templates = _templates(spec, world[spec.name])
        base = world[spec.name].iloc[0].to_dict()  # row 0: every planted row comes later

        def add(reason: str, template: dict[str, object] = base, **change: object) -> None:
            row = keys.fresh(spec, template) | change  # noqa: B023 - used at once
            out.append(Planted(spec.name, reason, row))  # noqa: B023

        for col in spec.required_columns:
            add(f"missing:{col.name}", **{col.name: None})
        for rng in spec.ranges:
            for value in _violations(rng, spec.column(rng.column).kind == "int"):
                add(f"out_of_range:{rng.column}", **{rng.column: value})
        for allowed in spec.allowed:
            for value in _bad_values(allowed):
                add(f"unknown_value:{allowed.column}", **{allowed.column: value})
        for ts in spec.timestamp_columns:
            add(f"after_as_of:{ts}", **{ts: as_of + pd.Timedelta(days=1)})
        for fk in spec.foreign_keys:
            template = templates[fk.when[1]] if fk.when else base
            add(f"unknown_id:{fk.column}", template, **{fk.column: f"ghost_{fk.column}"})
        out.append(Planted(spec.name, DUPLICATE_KEY, dict(base)))
    return out


def _nullable(dtypes: pd.Series) -> dict[str, str]:
    """Dtypes that can hold a planted null: int64 -> Int64, bool -> boolean."""
    widen = {"int64": "Int64", "bool": "boolean"}
    return {col: widen.get(str(dtype), str(dtype)) for col, dtype in dtypes.items()}


def corrupt(
    world: dict[str, pd.DataFrame], planted: list[Planted], seed: int
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[int, str]]]:
    """Insert planted rows at random places after the first row (the templates' home).

    Returns the corrupted tables and, per table, the file row number of every planted
    row with the reason it must get.
    """
    rng = np.random.default_rng(seed)
    tables: dict[str, pd.DataFrame] = {}
    expected: dict[str, dict[int, str]] = {}
    for name, frame in world.items():
        mine = [p for p in planted if p.table == name]
        frame = frame.astype(_nullable(frame.dtypes))
        bad = pd.DataFrame([p.row for p in mine], columns=frame.columns).astype(frame.dtypes)
        # new row number of each row of frame + bad; row 0 stays first
        positions = np.concatenate([[0], 1 + rng.permutation(len(frame) - 1 + len(mine))])
        is_bad = np.zeros(len(frame) + len(mine), dtype=bool)
        is_bad[len(frame) :] = True
        combined = pd.concat([frame, bad], ignore_index=True)
        tables[name] = combined.iloc[np.argsort(positions)].reset_index(drop=True)
        bad_rows = positions[is_bad]
        expected[name] = {int(r): p.reason for r, p in zip(bad_rows, mine, strict=True)}
    return tables, expected


def expected_counts(planted: list[Planted]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {}
    for p in planted:
        counts.setdefault(p.table, Counter())[p.reason] += 1
    return counts
