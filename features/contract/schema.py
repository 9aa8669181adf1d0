"""The data contract (v1) declared as data: tables, columns, keys and row rules.

Everything the reader and validator enforce is read from TABLES; nothing about a
specific table is hard-coded elsewhere. docs/data-contract.md is rendered from it by
features/contract/document.py.
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
    meaning: str = ""  # one line for people: docs/data-contract.md shows it


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
    about: str = ""  # what one row is, for docs/data-contract.md
    # the time a row comes into being (unknown before it), and the times of later
    # changes to it (a leave, a deletion: unknown until they happen)
    known_at: str | None = None
    ends: tuple[str, ...] = ()

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
            Column("user_id", "id", R, "the user"),
            Column("registered_at", "ts", R, "when the user opened the account"),
            Column("city", "str", meaning="home city"),
            Column("birth_year", "int", meaning="year of birth"),
            Column("is_student", "bool", meaning="the user is a student"),
        ),
        primary_key=("user_id",),
        known_at="registered_at",
        about="One row per user of the app.",
    ),
    TableSpec(
        "merchants",
        Need.OPTIONAL,
        (
            Column("merchant_id", "id", R, "the merchant"),
            Column("category", "str", R, "what the merchant sells, e.g. `cafe`"),
            Column("city", "str", meaning="where the merchant is"),
            Column("country", "str", meaning="where the merchant is (ISO 3166 alpha-2)"),
        ),
        primary_key=("merchant_id",),
        about="One row per merchant that payments go to.",
    ),
    TableSpec(
        "circles",
        Need.ALWAYS,
        (
            Column("circle_id", "id", R, "the circle"),
            Column("name", "str", R, "display name"),
            Column("topic", "str", R, "what the circle is about"),
            Column("created_at", "ts", R, "when the circle was created"),
            Column(
                "creator_id", "id", meaning="the user who created it; null: run by the platform"
            ),
            Column(
                "min_credit_score",
                "int",
                meaning="lowest credit score in force that may join; null: open to all",
            ),
            Column("is_official", "bool", meaning="run by the app's own team"),
        ),
        primary_key=("circle_id",),
        foreign_keys=(ForeignKey("creator_id", "users"),),
        known_at="created_at",
        about="One row per circle: a group inside the app that users join and post in.",
    ),
    TableSpec(
        "posts",
        Need.FEED,
        (
            Column("post_id", "id", R, "the post"),
            Column("circle_id", "id", R, "the circle it was posted in"),
            Column("author_id", "id", R, "the user who wrote it"),
            Column("created_at", "ts", R, "when it was posted"),
            Column("media_type", "str", meaning="what it holds"),
            Column("is_official", "bool", meaning="posted by the app's own team"),
            Column("deleted_at", "ts", meaning="when it was deleted; null: never"),
        ),
        primary_key=("post_id",),
        foreign_keys=(ForeignKey("circle_id", "circles"), ForeignKey("author_id", "users")),
        allowed=(Allowed("media_type", MEDIA_TYPES),),
        known_at="created_at",
        ends=("deleted_at",),
        about="One row per post in a circle: the items of the feed.",
    ),
    TableSpec(
        "payments",
        Need.OPTIONAL,
        (
            Column("payment_id", "id", R, "the payment"),
            Column("user_id", "id", R, "the user who paid"),
            Column("merchant_id", "id", R, "the merchant paid"),
            Column("amount", "float", R, "how much, in the currency's major unit"),
            Column("ts", "ts", R, "when it was paid"),
            Column("currency", "str", meaning="currency of `amount` (ISO 4217)"),
            Column("country", "str", meaning="where it was paid (ISO 3166 alpha-2)"),
            Column("channel", "str", meaning="how it was paid, e.g. `qr`, `card`"),
        ),
        primary_key=("payment_id",),
        foreign_keys=(ForeignKey("user_id", "users"), ForeignKey("merchant_id", "merchants")),
        ranges=(Range("amount", low=0.0, low_open=True),),
        requires=("merchants",),
        known_at="ts",
        about="One row per payment by a user to a merchant: the main signal of interests.",
    ),
    TableSpec(
        "transfers",
        Need.OPTIONAL,
        (
            Column("transfer_id", "id", R, "the transfer"),
            Column("sender_id", "id", R, "the user who sent the money"),
            Column("receiver_id", "id", R, "the user who received it"),
            Column("amount", "float", R, "how much, in the currency's major unit"),
            Column("ts", "ts", R, "when it was sent"),
        ),
        primary_key=("transfer_id",),
        foreign_keys=(ForeignKey("sender_id", "users"), ForeignKey("receiver_id", "users")),
        ranges=(Range("amount", low=0.0, low_open=True),),
        known_at="ts",
        about="One row per money transfer between two users: a social tie.",
    ),
    TableSpec(
        "credit_scores",
        Need.OPTIONAL,
        (
            Column("user_id", "id", R, "the user scored"),
            Column("ts", "ts", R, "when the score took effect"),
            Column("score", "int", R, "the credit score"),
        ),
        primary_key=("user_id", "ts"),
        foreign_keys=(ForeignKey("user_id", "users"),),
        ranges=(Range("score", low=350, high=950),),
        known_at="ts",
        about=(
            "A history of credit scores: the score in force at time t is the user's latest"
            " row with ts <= t. Credit decides eligibility (`circles.min_credit_score`) and"
            " trust, never how interesting an item is."
        ),
    ),
    TableSpec(
        "social_edges",
        Need.OPTIONAL,
        (
            Column("user_id", "id", R, "one end: the follower of a `follow`"),
            Column("other_id", "id", R, "the other end: the one followed"),
            Column("created_at", "ts", R, "when the tie was made"),
            Column(
                "kind",
                "str",
                meaning="`friend` is mutual and may be stored once; `follow` is directed;"
                " null: `friend`",
            ),
        ),
        primary_key=("user_id", "other_id", "kind"),
        foreign_keys=(ForeignKey("user_id", "users"), ForeignKey("other_id", "users")),
        allowed=(Allowed("kind", EDGE_KINDS),),
        known_at="created_at",
        about="One row per friendship or follow between two users.",
    ),
    TableSpec(
        "memberships",
        Need.ALWAYS,
        (
            Column("user_id", "id", R, "the member"),
            Column("circle_id", "id", R, "the circle joined"),
            Column("joined_at", "ts", R, "when the user joined"),
            Column("left_at", "ts", meaning="when the user left; null: still a member"),
        ),
        primary_key=("user_id", "circle_id", "joined_at"),
        foreign_keys=(ForeignKey("user_id", "users"), ForeignKey("circle_id", "circles")),
        known_at="joined_at",
        ends=("left_at",),
        about="One row per stay of a user in a circle: leaving and joining again is a new row.",
    ),
    TableSpec(
        "events",
        Need.FEED,
        (
            Column("event_id", "id", R, "the event"),
            Column("ts", "ts", R, "when it happened"),
            Column("user_id", "id", R, "the user who saw or acted"),
            Column("surface", "str", R, "where: the feed or the circle suggestions"),
            Column(
                "item_id",
                "id",
                R,
                "what was shown or acted on: a post on `feed`, a circle on `circle_suggestions`",
            ),
            Column("action", "str", R, "what happened; the values depend on `surface`"),
            Column("request_id", "id", meaning="the ranking request whose page showed the item"),
            Column("position", "int", meaning="the 0-based slot the item was shown in"),
            Column(
                "propensity",
                "float",
                meaning="the probability that the logging policy showed this item in this slot",
            ),
            Column("arm", "str", meaning="the experiment arm that served the page"),
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
        known_at="ts",
        about=(
            "One row per impression or engagement on a surface: what the models learn from."
            " An engagement refers to an earlier impression of the same (user, item) when one"
            " exists; an engagement with no impression is still valid data."
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


# per table: the column holding the time a row comes into being
KNOWN_AT: dict[str, str] = {t.name: t.known_at for t in TABLES if t.known_at}
