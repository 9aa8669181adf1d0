"""Type coercion of contract columns: one function per column kind.

Each function returns the column in its canonical dtype or raises ColumnTypeError
naming the file, the column and one offending value. Nulls stay nulls (an empty
string counts as null); whether a null is allowed is the validator's business.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from circlerank.errors import ColumnTypeError

from .schema import ColumnKind

TS_DTYPE = "datetime64[us, UTC]"
# spellings of a boolean in text, case-insensitive; tuples, so the docs list them in order
TRUE_TEXT = ("true", "t", "yes", "y", "1")
FALSE_TEXT = ("false", "f", "no", "n", "0")


def _first_bad(raw: pd.Series, bad: pd.Series | np.ndarray) -> object:
    return raw[np.asarray(bad)].iloc[0]


def _is_stringlike(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s.dtype) or s.dtype == object


def coerce_id(s: pd.Series, path: str, column: str) -> pd.Series:
    """Ids are opaque strings: integers become their decimal text, never floats."""
    if pd.api.types.is_bool_dtype(s.dtype):
        raise ColumnTypeError(path, column, "an id (string)", s.dropna().iloc[0])
    if pd.api.types.is_integer_dtype(s.dtype):
        return s.astype("Int64").astype("str").where(s.notna(), None).astype("str")
    if pd.api.types.is_float_dtype(s.dtype):
        values = s.to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isnan(values) & (values != np.round(values))
        if bad.any():
            raise ColumnTypeError(path, column, "an id (string)", _first_bad(s, bad))
        return coerce_id(s.astype("Int64"), path, column)
    if not _is_stringlike(s):
        raise ColumnTypeError(path, column, "an id (string)", s.dropna().iloc[0])
    return coerce_str(s, path, column)


def coerce_str(s: pd.Series, path: str, column: str) -> pd.Series:
    out = s.astype("str") if s.dtype != "str" else s
    # astype("str") keeps missing values missing; empty strings are missing too
    return out.where(out != "", None) if (out == "").any() else out


def coerce_ts(s: pd.Series, path: str, column: str) -> pd.Series:
    """Timestamps become UTC-aware; naive values are read as UTC."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert("UTC").astype(TS_DTYPE)
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return s.dt.tz_localize("UTC").astype(TS_DTYPE)
    if s.isna().all():
        return pd.Series(pd.NaT, index=s.index, dtype=TS_DTYPE)
    if not _is_stringlike(s):
        raise ColumnTypeError(path, column, "an ISO 8601 timestamp", s.dropna().iloc[0])
    text = coerce_str(s, path, column)
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad = parsed.isna() & text.notna()
    if bad.any():
        raise ColumnTypeError(path, column, "an ISO 8601 timestamp", _first_bad(text, bad))
    return parsed.astype(TS_DTYPE)


def _to_number(s: pd.Series, path: str, column: str, expected: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(s.dtype):
        raise ColumnTypeError(path, column, expected, s.dropna().iloc[0])
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s
    text = coerce_str(s, path, column)
    number = pd.to_numeric(text, errors="coerce")
    bad = number.isna() & text.notna()
    if bad.any():
        raise ColumnTypeError(path, column, expected, _first_bad(text, bad))
    return number


def coerce_float(s: pd.Series, path: str, column: str) -> pd.Series:
    return _to_number(s, path, column, "a number").astype("float64")


def coerce_int(s: pd.Series, path: str, column: str) -> pd.Series:
    number = _to_number(s, path, column, "an integer")
    if pd.api.types.is_float_dtype(number.dtype):
        values = number.to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isnan(values) & (values != np.round(values))
        if bad.any():
            raise ColumnTypeError(path, column, "an integer", _first_bad(s, bad))
    return number.astype("Int64")


def coerce_bool(s: pd.Series, path: str, column: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("boolean")
    if pd.api.types.is_integer_dtype(s.dtype):
        bad = s.notna() & ~s.isin([0, 1])
        if bad.any():
            raise ColumnTypeError(path, column, "a boolean", _first_bad(s, bad))
        return s.astype("boolean")
    text = coerce_str(s, path, column).str.strip().str.lower()
    truth = text.map(lambda v: True if v in TRUE_TEXT else (False if v in FALSE_TEXT else None))
    bad = truth.isna() & text.notna()
    if bad.any():
        raise ColumnTypeError(path, column, "a boolean", _first_bad(s, bad))
    return truth.astype("boolean")


COERCERS: dict[ColumnKind, Callable[[pd.Series, str, str], pd.Series]] = {
    "id": coerce_id,
    "str": coerce_str,
    "ts": coerce_ts,
    "int": coerce_int,
    "float": coerce_float,
    "bool": coerce_bool,
}

EMPTY_DTYPES: dict[ColumnKind, str] = {
    "id": "str",
    "str": "str",
    "ts": TS_DTYPE,
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
}
