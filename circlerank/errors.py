"""The one home for circlerank's domain errors.

Library code raises these; the CLI turns them into one-line messages with an exit code
and serving/ maps them to HTTP errors. Messages say what was received.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


class CircleRankError(Exception):
    """Base of every error the engine raises on purpose."""

    exit_code = 2


class ConfigError(CircleRankError):
    """A configuration value or command-line argument is invalid."""


class ContractError(CircleRankError):
    """Input data breaks the data contract in a way that makes it unusable."""

    exit_code = 1


class MissingTableError(ContractError):
    """A table the run needs is not in the data directory."""

    def __init__(self, data_dir: str, table: str, why: str = "required") -> None:
        self.table = table
        super().__init__(
            f"{data_dir}: table '{table}' is missing ({why}); "
            f"expected {table}.parquet or {table}.csv"
        )


class ColumnTypeError(ContractError):
    """A column cannot be read as the type the contract gives it."""

    def __init__(self, path: str, column: str, expected: str, example: object) -> None:
        self.path = path
        self.column = column
        self.example = example
        super().__init__(
            f"{path}: column '{column}' cannot be read as {expected}, e.g. value {example!r}"
        )


class MissingColumnError(ContractError):
    """A required column is absent from a table file."""

    def __init__(self, path: str, column: str, present: list[str]) -> None:
        self.path = path
        self.column = column
        super().__init__(
            f"{path}: required column '{column}' is missing (columns present: "
            f"{', '.join(present) or 'none'})"
        )


class OutputError(CircleRankError):
    """An output location cannot be written."""


class FeatureStoreError(CircleRankError):
    """The online feature store cannot be built, opened or read as asked."""


class StoreUnavailableError(FeatureStoreError):
    """The online store's server cannot be reached (refused, timed out): a passing
    outage, which serving answers with its fallback rather than an error."""


class ModelError(CircleRankError):
    """A model cannot be trained on the data given, or a model bundle cannot be used."""


class BundleMismatchError(ModelError):
    """A model bundle does not fit the features it would be served with."""


class TrainedAfterError(ModelError):
    """A model bundle learned from data after the instant it would rank or be judged as
    of: it has seen what was not known then."""


class CursorError(CircleRankError):
    """A pagination cursor is malformed, tampered with, expired or for another request."""


class EventLogError(CircleRankError):
    """The event log cannot be opened, written or read."""


class RowRefusedError(EventLogError):
    """The event log refuses a row's values (PostgreSQL text cannot hold NUL, a lone
    surrogate has no UTF-8), as opposed to an outage: the row is dead-lettered."""


# pydantic's wording, which a user reading a CLI or API error should not have to parse
_LIBRARY_PREFIX = re.compile(r"^(Value error|Assertion failed), ")
_SHOULD = re.compile(r"^(Input|List|String|Dictionary|Tuple|Set|Value|Object|Data|Number) should ")
_TIME_TYPES = ("datetime_parsing", "datetime_from_date_parsing", "datetime_type", "date_parsing")
_MOST_SHOWN = 60  # characters of a bad value repeated back


def shown(value: object) -> str:
    """A value as repeated back in an error: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= _MOST_SHOWN else text[: _MOST_SHOWN - 3] + "..."


def plain_reason(error: Mapping[str, Any]) -> str:
    """One item of a pydantic ValidationError's `errors()` as a predicate in plain words,
    without its location: "is missing", "must be greater than 0 (got -1)", or the
    message our own validator raised."""
    kind = str(error.get("type", ""))
    context = error.get("ctx") or {}
    given = error.get("input")
    if kind == "missing":
        return "is missing"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "json_invalid":
        return "is not valid JSON"
    if kind in ("value_error", "assertion_error") and "error" in context:
        return str(context["error"])
    if kind in _TIME_TYPES:
        return f"cannot be read as a time (got {shown(given)})"
    if kind in ("too_short", "string_too_short") and not given:
        return "is empty"
    message = _SHOULD.sub("must ", _LIBRARY_PREFIX.sub("", str(error.get("msg", ""))))
    return f"{message} (got {shown(given)})" if "input" in error else message
