"""Reading and type coercion on tiny hand-built tables with known answers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from circlerank.errors import ColumnTypeError, MissingColumnError, MissingTableError
from features.contract import load_contract
from tests.features.minimal import write_minimal

AS_OF = "2026-06-01T00:00:00Z"


def test_ids_stay_strings_and_keep_leading_zeros(tmp_path: Path) -> None:
    write_minimal(tmp_path)
    users = load_contract(tmp_path, as_of=AS_OF)["users"]
    assert users["user_id"].tolist() == ["007", "u2"]
    assert pd.api.types.is_string_dtype(users["user_id"].dtype)


def test_integer_ids_in_parquet_become_decimal_text(tmp_path: Path) -> None:
    users = pd.DataFrame(
        {"user_id": [7, 8], "registered_at": pd.to_datetime(["2026-01-01", "2026-01-02"])}
    )
    members = pd.DataFrame(
        {"user_id": [7], "circle_id": ["c1"], "joined_at": ["2026-02-01T00:00:00Z"]}
    )
    write_minimal(tmp_path, fmt="parquet", users=users, memberships=members)
    data = load_contract(tmp_path, as_of=AS_OF)
    assert data["users"]["user_id"].tolist() == ["7", "8"]
    assert data.report.tables["memberships"].accepted == 1


def test_timestamps_are_utc_and_naive_values_read_as_utc(tmp_path: Path) -> None:
    write_minimal(tmp_path)
    data = load_contract(tmp_path, as_of=AS_OF)
    registered = data["users"]["registered_at"]
    assert str(registered.dt.tz) == "UTC"
    assert registered.iloc[0] == pd.Timestamp("2026-01-01T00:00:00Z")
    joined = data["memberships"]["joined_at"].iloc[0]
    assert joined == pd.Timestamp("2026-02-01T00:00:00Z")  # +08:00 converted


def test_naive_parquet_timestamps_read_as_utc(tmp_path: Path) -> None:
    users = pd.DataFrame(
        {
            "user_id": ["a", "b"],
            "registered_at": pd.to_datetime(["2026-01-01T05:00", "2026-01-02T00:00"]),
        }
    )
    write_minimal(tmp_path, fmt="parquet", users=users)
    registered = load_contract(tmp_path, as_of=AS_OF)["users"]["registered_at"]
    assert registered.iloc[0] == pd.Timestamp("2026-01-01T05:00:00Z")


def test_parquet_wins_over_csv(tmp_path: Path) -> None:
    write_minimal(tmp_path, fmt="csv")
    parquet_users = pd.DataFrame({"user_id": ["p1"], "registered_at": ["2026-01-01T00:00:00Z"]})
    parquet_users.to_parquet(tmp_path / "users.parquet", index=False)
    data = load_contract(tmp_path, as_of=AS_OF)
    assert data["users"]["user_id"].tolist() == ["p1"]
    # the CSV's users are not read, so the membership of 007 is an unknown user
    assert data.report.tables["memberships"].reasons == {"unknown_id:user_id": 1}


def test_extra_columns_ignored_and_absent_optional_columns_are_null(tmp_path: Path) -> None:
    users = pd.DataFrame(
        {"user_id": ["007"], "registered_at": ["2026-01-01"], "favourite_colour": ["teal"]}
    )
    write_minimal(tmp_path, users=users)
    frame = load_contract(tmp_path, as_of=AS_OF)["users"]
    assert list(frame.columns) == ["user_id", "registered_at", "city", "birth_year", "is_student"]
    assert frame["city"].isna().all()


def test_booleans_read_from_text(tmp_path: Path) -> None:
    users = pd.DataFrame(
        {
            "user_id": list("abcdef"),
            "registered_at": ["2026-01-01"] * 6,
            "is_student": ["true", "False", "1", "0", "yes", ""],
        }
    )
    write_minimal(tmp_path, users=users)
    students = load_contract(tmp_path, as_of=AS_OF)["users"]["is_student"]
    assert students.tolist()[:5] == [True, False, True, False, True]
    assert pd.isna(students.iloc[5])


def test_missing_required_table_is_an_error_naming_it(tmp_path: Path) -> None:
    write_minimal(tmp_path)
    (tmp_path / "circles.csv").unlink()
    with pytest.raises(MissingTableError, match="circles"):
        load_contract(tmp_path, as_of=AS_OF)


def test_payments_without_merchants_is_an_error(tmp_path: Path) -> None:
    payments = pd.DataFrame(
        {
            "payment_id": ["p1"],
            "user_id": ["007"],
            "merchant_id": ["m1"],
            "amount": [3.5],
            "ts": ["2026-03-01T00:00:00Z"],
        }
    )
    write_minimal(tmp_path, payments=payments)
    with pytest.raises(MissingTableError, match=r"merchants.*required when payments"):
        load_contract(tmp_path, as_of=AS_OF)


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    write_minimal(tmp_path, users=pd.DataFrame({"user_id": ["007"]}))
    with pytest.raises(MissingColumnError, match=r"users\.csv.*registered_at"):
        load_contract(tmp_path, as_of=AS_OF)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_unreadable_required_column_names_file_column_and_value(tmp_path: Path, fmt: str) -> None:
    write_minimal(
        tmp_path,
        fmt=fmt,
        users=pd.DataFrame(
            {"user_id": ["a", "b"], "registered_at": ["2026-01-01", "last tuesday"]}
        ),
    )
    with pytest.raises(ColumnTypeError) as info:
        load_contract(tmp_path, as_of=AS_OF)
    message = str(info.value)
    assert f"users.{fmt}" in message
    assert "registered_at" in message
    assert "last tuesday" in message


def test_non_numeric_amount_is_a_type_error(tmp_path: Path) -> None:
    merchants = pd.DataFrame({"merchant_id": ["m1"], "category": ["pet_store"]})
    payments = pd.DataFrame(
        {
            "payment_id": ["p1", "p2"],
            "user_id": ["007", "007"],
            "merchant_id": ["m1", "m1"],
            "amount": ["3.50", "12,00"],
            "ts": ["2026-03-01T00:00:00Z"] * 2,
        }
    )
    write_minimal(tmp_path, merchants=merchants, payments=payments)
    with pytest.raises(ColumnTypeError, match=r"amount.*'12,00'"):
        load_contract(tmp_path, as_of=AS_OF)


def test_absent_optional_columns_of_every_kind_are_null(tmp_path: Path) -> None:
    posts = pd.DataFrame(
        {"post_id": ["p1"], "circle_id": ["c1"], "author_id": ["007"], "created_at": ["2026-02-01"]}
    )
    events = pd.DataFrame(
        {
            "event_id": ["e1"],
            "ts": ["2026-02-02T00:00:00Z"],
            "user_id": ["007"],
            "surface": ["feed"],
            "item_id": ["p1"],
            "action": ["click"],
        }
    )
    write_minimal(tmp_path, posts=posts, events=events)
    data = load_contract(tmp_path, as_of=AS_OF)
    row = data["events"].iloc[0]
    assert pd.isna(row["propensity"]) and pd.isna(row["position"]) and pd.isna(row["arm"])
    assert data["events"]["propensity"].dtype == "float64"
    assert pd.isna(data["posts"]["deleted_at"].iloc[0])
