"""The wire format: what clients send and receive (also the OpenAPI schema at /docs)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from circlerank.errors import plain_reason
from features.contract.schema import table_spec

ACTIONS: dict[str, frozenset[str]] = {
    "feed": frozenset({"impression", "click", "like", "comment", "share", "hide", "report"}),
    "circle_suggestions": frozenset({"impression", "join", "dismiss"}),
}

# The id policy, for every id and name a client sends (user_id, item_id, event_id,
# request_id, arm, strategy): 1 to 128 characters, any Unicode but control characters
# (U+0000-U+001F, U+007F-U+009F) and lone surrogates. PostgreSQL's text refuses NUL, and
# one stored row it refuses would stall the event log; a control character in an id is
# a client bug, better answered 422 at the door than carried into logs and reports.
MAX_ID_CHARS = 128
# documents the policy in the OpenAPI schema; check_id_text enforces it with a message
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
ID_POLICY = f"1-{MAX_ID_CHARS} characters, no control characters"


def check_id_text(value: str | None) -> str | None:
    """The value unchanged if it keeps the id policy's character rule; ValueError naming
    the first forbidden character and its position otherwise."""
    found = None if value is None else _FORBIDDEN.search(value)
    if found is not None:
        raise ValueError(
            f"contains U+{ord(found.group()):04X} at position {found.start()}; ids are {ID_POLICY}"
        )
    return value


_ID_SCHEMA = {"pattern": ID_PATTERN}
IdText = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID_CHARS, json_schema_extra=_ID_SCHEMA),
    AfterValidator(check_id_text),
]
# query parameters under the same policy (a strategy name is shorter)
UserIdParam = Annotated[
    str,
    Query(
        min_length=1,
        max_length=MAX_ID_CHARS,
        json_schema_extra=_ID_SCHEMA,
        description=f"any id ({ID_POLICY}); unknown = cold start",
    ),
    AfterValidator(check_id_text),
]
StrategyParam = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        json_schema_extra=_ID_SCHEMA,
        description="default: experiment or surface default",
    ),
    AfterValidator(check_id_text),
]


class RankedItem(BaseModel):
    item_id: str
    rank: int = Field(description="0-based slot from the first page of the session")
    score: float
    propensity: float = Field(
        description="probability that the policy showed this item in this slot, given "
        "the items above it (1.0 for a deterministic policy)"
    )
    reasons: list[str]
    explanation: str


class RankedResponse(BaseModel):
    request_id: str
    model_version: str
    strategy: str
    arm: str
    experiment: str | None = None
    items: list[RankedItem]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page")


# a valid value of each event field, shown with a bad one
EVENT_EXAMPLES = {
    "event_id": '"e-000123" (unique per event: a repeat is skipped as a duplicate)',
    "ts": '"2026-03-01T12:00:00Z" (ISO 8601; naive times are UTC)',
    "user_id": '"u00042"',
    "surface": '"feed" or "circle_suggestions"',
    "item_id": '"p00042" (a post on feed, a circle on circle_suggestions)',
    "action": '"click" on feed, "join" on circle_suggestions',
    "request_id": "the request_id of the page that showed the item",
    "position": "0 (the item's 0-based slot on its page, at most 100000)",
    "propensity": "0.25 (the item's propensity from the page; above 0, at most 1)",
    "arm": "the arm of the page that showed the item",
}


JSON_TYPES = {str: "a string", int: "a number", float: "a number", list: "an array"}
JSON_TYPES |= {bool: "true or false", type(None): "null"}


class FieldError(ValueError):
    """A check across fields that still blames one field (e.g. an action its surface
    has not)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def event_reason(error: Any) -> InitErrorDetails:
    """One of pydantic's errors on an event as a reason that names the field and shows
    a valid value, in words a client developer reads without knowing pydantic."""
    cause = (error.get("ctx") or {}).get("error")
    loc = error["loc"] or ((cause.field,) if isinstance(cause, FieldError) else ())
    field = ".".join(str(p) for p in loc) or "row"
    if error["type"] == "model_type":
        got = JSON_TYPES.get(type(error["input"]), "a value")
        reason = f"row must be a JSON object with the event fields (got {got})"
    elif error["type"] == "extra_forbidden":
        reason = f"{field} is not an event field; fields: {', '.join(EventIn.model_fields)}"
    else:
        example = None if isinstance(cause, FieldError) else EVENT_EXAMPLES.get(field)
        reason = f"{field} {plain_reason(error)}" + (f"; e.g. {example}" if example else "")
    text = PydanticCustomError(error["type"], "{reason}", {"reason": reason})
    return InitErrorDetails(type=text, loc=loc, input=error.get("input"))


class EventIn(BaseModel):
    """One row of the contract's `events` table."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_id: IdText
    ts: datetime = Field(description="ISO 8601; naive times are read as UTC")
    user_id: IdText
    surface: Literal["feed", "circle_suggestions"]
    item_id: IdText
    action: str
    request_id: IdText | None = None
    position: int | None = Field(default=None, ge=0, le=100_000)
    propensity: float | None = Field(default=None, gt=0, le=1)
    arm: IdText | None = None

    @field_validator("ts")
    @classmethod
    def _utc(cls, ts: datetime) -> datetime:
        try:
            ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
        except OverflowError as exc:  # e.g. year 1 at +00:01 is before year 1 in UTC
            raise ValueError("is out of the range of dates") from exc
        if ts.year < 1970:
            raise ValueError("is before 1970")
        return ts

    @model_validator(mode="after")
    def _action_fits_surface(self) -> EventIn:
        valid = ACTIONS[self.surface]
        if self.action not in valid:
            listed = ", ".join(sorted(valid))
            raise FieldError(
                "action", f"{self.action!r} is not valid on {self.surface}; valid: {listed}"
            )
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _plain_errors(cls, data: Any, handler: ModelWrapValidatorHandler[EventIn]) -> EventIn:
        try:
            return handler(data)
        except ValidationError as exc:
            details = [event_reason(e) for e in exc.errors()]
            raise ValidationError.from_exception_data(exc.title, details) from None


# the wire names are the contract's column names: fail at import if they drift apart
_CONTRACT = {c.name for c in table_spec("events").columns}
assert set(EventIn.model_fields) == _CONTRACT, sorted(_CONTRACT ^ set(EventIn.model_fields))


class Rejected(BaseModel):
    index: int = Field(description="the row's position in the posted batch")
    field: str
    reason: str


class EventsAccepted(BaseModel):
    request_id: str
    accepted: int = Field(description="rows stored durably by this call")
    duplicates: int = Field(description="rows whose event_id was already stored (skipped)")
    rejected: list[Rejected]


class Readiness(BaseModel):
    ready: bool
    missing: list[str]
    model_version: str | None
    bundle: str | None
    as_of: str | None
    snapshot: str | None
    event_log: str | None
    # set while writes to the event log fail (served impressions wait and are retried;
    # POST /v1/events answers 503)
    event_log_error: str | None
    online_store: str | None
    # false while the online store is unreachable (pages come from the fallback)
    online_store_available: bool
    online_store_error: str | None
    impressions_pending: int
    reload_refused: dict[str, str] | None
