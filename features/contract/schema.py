"""The data contract (v1) declared as data: tables, columns, keys and row rules.

Everything the reader and validator enforce is read from TABLES; nothing about a
specific table is hard-coded elsewhere. See DATA_CONTRACT.md for the prose version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

ColumnKind = Literal["id", "str", "ts", "int", "float", "bool"]


class Need(Enum):
    """When a table must be present in a data directory."""

    ALWAYS = "always"
    FEED = "feed"  # needed by the feed surface, optional for validation
    OPTIONAL = "optional"


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    required: bool = False


@dataclass(frozen=True)
class ForeignKey:
    """`column` must name an accepted row of `parent` (nulls pass).

    When `when` is set, the key applies only to rows whose column equals the value,
    e.g. events.item_id is a post on the feed surface and a circle on suggestions.
    """

    column: str
    parent: str
    when: tuple[str, str] | None = None


@dataclass(frozen=True)
class Range:
    """Non-null values of `column` must lie in the interval; open ends are exclusive."""

    column: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        lo = "(" if self.low_open else "["
        hi = ")" if self.high_open else "]"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{self.column} in {lo}{low}, {high}{hi}"


@dataclass(frozen=True)
class Allowed:
    """Non-null values of `column` must be one of `values` (per value of `by`, if set)."""

    column: str
    values: frozenset[str] = frozenset()
    by: str | None = None
    values_by: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class TableSpec:
    name: str
    need: Need
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    ranges: tuple[Range, ...] = ()
    allowed: tuple[Allowed, ...] = ()
    requires: tuple[str, ...] = ()  # tables that must be present whenever this one is

    @property
    def required_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required)

    @property
    def timestamp_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.kind == "ts")

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


FEED_ACTIONS = frozenset({"impression", "click", "like", "comment", "share", "hide", "report"})
SUGGESTION_ACTIONS = frozenset({"impression", "join", "dismiss"})
SURFACES = frozenset({"feed", "circle_suggestions"})
MEDIA_TYPES = frozenset({"text", "image", "video"})
EDGE_KINDS = frozenset({"friend", "follow"})

R = True  # marks a required column, to keep the tables below readable

# Parents come before children: the validator walks this tuple in order and checks
# foreign keys against the parent's *accepted* rows.
TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "users",
        Need.ALWAYS,
        (
            Column("user_id", "id", R),
            Column("registered_at", "ts", R),
            Column("city", "str"),
            Column("birth_year", "int"),
            Column("is_student", "bool"),
        ),
        primary_key=("user_id",),
    ),
    TableSpec(
        "merchants",
        Need.OPTIONAL,
        (
            Column("merchant_id", "id", R),
            Column("category", "str", R),
            Column("city", "str"),
            Column("country", "str"),
        ),
        primary_key=("merchant_id",),
    ),
    TableSpec(
        "circles",
        Need.ALWAYS,
        (
            Column("circle_id", "id", R),
            Column("name", "str", R),
            Column("topic", "str", R),
            Column("created_at", "ts", R),
            Column("creator_id", "id"),
            Column("min_credit_score", "int"),
            Column("is_official", "bool"),
        ),
        primary_key=("circle_id",),
        foreign_keys=(ForeignKey("creator_id", "users"),),
    ),
    TableSpec(
        "posts",
        Need.FEED,
        (
            Column("post_id", "id", R),
            Column("circle_id", "id", R),
            Column("author_id", "id", R),
            Column("created_at", "ts", R),
            Column("media_type", "str"),
            Column("is_official", "bool"),
            Column("deleted_at", "ts"),
        ),
        primary_key=("post_id",),
        foreign_keys=(ForeignKey("circle_id", "circles"), ForeignKey("author_id", "users")),
        allowed=(Allowed("media_type", MEDIA_TYPES),),
    ),
    TableSpec(
        "payments",
        Need.OPTIONAL,
        (
            Column("payment_id", "id", R),
            Column("user_id", "id", R),
            Column("merchant_id", "id", R),
            Column("amount", "float", R),
            Column("ts", "ts", R),
            Column("currency", "str"),
            Column("country", "str"),
            Column("channel", "str"),
        ),
        primary_key=("payment_id",),
        foreign_keys=(ForeignKey("user_id", "users"), ForeignKey("merchant_id", "merchants")),
        ranges=(Range("amount", low=0.0, low_open=True),),
        requires=("merchants",),
    ),
    TableSpec(
        "transfers",
        Need.OPTIONAL,
        (
            Column("transfer_id", "id", R),
            Column("sender_id", "id", R),
            Column("receiver_id", "id", R),
            Column("amount", "float", R),
            Column("ts", "ts", R),
        ),
        primary_key=("transfer_id",),
        foreign_keys=(ForeignKey("sender_id", "users"), ForeignKey("receiver_id", "users")),
        ranges=(Range("amount", low=0.0, low_open=True),),
    ),
    TableSpec(
        "credit_scores",
        Need.OPTIONAL,
        (Column("user_id", "id", R), Column("ts", "ts", R), Column("score", "int", R)),
        primary_key=("user_id", "ts"),
        foreign_keys=(ForeignKey("user_id", "users"),),
        ranges=(Range("score", low=350, high=950),),
    ),
    TableSpec(
        "social_edges",
        Need.OPTIONAL,
        (
            Column("user_id", "id", R),
            Column("other_id", "id", R),
            Column("created_at", "ts", R),
            Column("kind", "str"),
        ),
        primary_key=("user_id", "other_id", "kind"),
        foreign_keys=(ForeignKey("user_id", "users"), ForeignKey("other_id", "users")),
        allowed=(Allowed("kind", EDGE_KINDS),),
    ),
    TableSpec(
        "memberships",
        Need.ALWAYS,
        (
            Column("user_id", "id", R),
            Column("circle_id", "id", R),
            Column("joined_at", "ts", R),
            Column("left_at", "ts"),
        ),
        primary_key=("user_id", "circle_id", "joined_at"),
        foreign_keys=(ForeignKey("user_id", "users"), ForeignKey("circle_id", "circles")),
    ),
    TableSpec(
        "events",
        Need.FEED,
        (
            Column("event_id", "id", R),
            Column("ts", "ts", R),
            Column("user_id", "id", R),
            Column("surface", "str", R),
            Column("item_id", "id", R),
            Column("action", "str", R),
            Column("request_id", "id"),
            Column("position", "int"),
            Column("propensity", "float"),
            Column("arm", "str"),
        ),
        primary_key=("event_id",),
        foreign_keys=(
            ForeignKey("user_id", "users"),
            ForeignKey("item_id", "posts", when=("surface", "feed")),
            ForeignKey("item_id", "circles", when=("surface", "circle_suggestions")),
        ),
        ranges=(Range("propensity", low=0.0, high=1.0, low_open=True), Range("position", low=0)),
        allowed=(
            Allowed("surface", SURFACES),
            Allowed(
                "action",
                by="surface",
                values_by={"feed": FEED_ACTIONS, "circle_suggestions": SUGGESTION_ACTIONS},
            ),
        ),
    ),
)

TABLE_BY_NAME: dict[str, TableSpec] = {t.name: t for t in TABLES}
TABLE_NAMES: tuple[str, ...] = tuple(TABLE_BY_NAME)


def table_spec(name: str) -> TableSpec:
    """The spec of one table; an unknown name is an error listing the valid ones."""
    try:
        return TABLE_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; valid: {', '.join(TABLE_NAMES)}") from None
