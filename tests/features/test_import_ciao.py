"""The Ciao importer: products as circles, first reviews as memberships, trust as follow
edges, the review-count filter at its fixed point with known counts, the report, and the
command line. On hand-built files in the data set's format (see ciao_files.py), and on the
real data when it is on this machine."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from circlerank.cli.main import main
from circlerank.errors import ConfigError, ContractError, OutputError
from features.contract import load_contract
from features.importers.ciao import import_ciao

from .ciao_files import generated_ciao

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "ciao-2000-2008"


def _day(day: str) -> pd.Timestamp:
    return pd.Timestamp(f"{day}T07:00:00Z")


@pytest.fixture
def src(tmp_path: Path) -> Path:
    generated_ciao(tmp_path / "src")
    return tmp_path / "src"


def test_products_become_circles_and_first_reviews_memberships(src: Path, tmp_path: Path) -> None:
    import_ciao(src, tmp_path / "data")
    data = load_contract(tmp_path / "data")
    circles = data["circles"].set_index("circle_id")
    assert sorted(circles.index) == ["p100", "p200"]
    assert circles.loc["p100", "name"] == "product 100"
    assert circles.loc["p100", "topic"] == "category 4"
    assert circles.loc["p200", "topic"] == "category 7"  # given 3 times against 9's twice
    # created at its first review in the file, by u6, whom the filter drops
    assert circles.loc["p100", "created_at"] == _day("2000-06-01")
    users = data["users"].set_index("user_id")
    assert sorted(users.index) == ["u1", "u2", "u3", "u4", "u5"]
    # registered at the first review in the file, of p300, which the filter drops
    assert users.loc["u1", "registered_at"] == _day("2000-09-01")
    memberships = data["memberships"].set_index(["user_id", "circle_id"])["joined_at"]
    assert len(memberships) == 10 and memberships.index.is_unique
    assert memberships[("u1", "p100")] == _day("2001-03-01")  # not the 2003 repeat
    assert memberships[("u5", "p200")] == _day("2002-05-01")
    assert set(data["memberships"].columns) >= {"user_id", "circle_id", "joined_at"}
    assert data["memberships"]["left_at"].isna().all()  # absent in the file, null on read


def test_trust_becomes_follow_edges_at_the_first_date_without_filtered_endpoints(
    src: Path, tmp_path: Path
) -> None:
    report = import_ciao(src, tmp_path / "data")
    edges = load_contract(tmp_path / "data")["social_edges"]
    pairs = set(zip(edges["user_id"], edges["other_id"], strict=True))
    assert pairs == {("u1", "u2"), ("u2", "u1"), ("u3", "u5")}  # directed, both kept
    assert (edges["kind"] == "follow").all()
    assert (edges["created_at"] == _day("2000-06-01")).all()
    assert report.left_out["trust edges with an endpoint filtered out"] == 2  # u1->u6, u7->u8
    assert report.left_out["trust edges with an endpoint who wrote no review"] == 1
    assert report.left_out["trust edges to oneself or repeated"] == 2
    everyone = import_ciao(src, tmp_path / "all", min_product_reviews=1, min_user_reviews=1)
    assert everyone.rows["social_edges"] == 5
    assert everyone.left_out["trust edges with an endpoint filtered out"] == 0


@pytest.mark.parametrize(
    ("products", "users", "expected"),
    [
        (1, 1, {"circles": 5, "users": 8, "memberships": 19, "social_edges": 5, "passes": 1}),
        (3, 2, {"circles": 3, "users": 5, "memberships": 14, "social_edges": 3, "passes": 2}),
        (5, 2, {"circles": 2, "users": 5, "memberships": 10, "social_edges": 3, "passes": 3}),
        (2, 3, {"circles": 3, "users": 4, "memberships": 12, "social_edges": 2, "passes": 2}),
    ],
)
def test_the_filter_reaches_its_fixed_point(
    src: Path, tmp_path: Path, products: int, users: int, expected: dict[str, int]
) -> None:
    report = import_ciao(src, tmp_path / "data", products, users)
    assert {**report.rows, "passes": report.filter["passes"]} == expected
    members = load_contract(tmp_path / "data")["memberships"]
    assert members.groupby("circle_id").size().min() >= products
    assert members.groupby("user_id").size().min() >= users


def test_the_report_records_settings_and_counts(src: Path, tmp_path: Path) -> None:
    report = import_ciao(src, tmp_path / "data")
    assert report.left_out == {
        "ratings rows with a missing or unreadable id, category or ts": 2,
        "repeat reviews of a product by the same user": 1,
        "products with fewer than 5 reviewers": 3,
        "users with fewer than 2 reviewed products": 3,
        "memberships in dropped products or of dropped users": 9,
        "trust rows with a missing id": 0,
        "trust edges to oneself or repeated": 2,
        "trust edges with an endpoint who wrote no review": 1,
        "trust edges with an endpoint filtered out": 2,
    }
    assert report.filter["min_product_reviews"] == 5
    assert report.filter["min_user_reviews"] == 2
    assert report.filter["products"] == {"read": 5, "kept": 2, "dropped": 3}
    assert report.filter["users"] == {"read": 8, "kept": 5, "dropped": 3}
    assert report.filter["memberships"] == {"read": 19, "kept": 10, "dropped": 9}
    assert report.filter["follow_edges"] == {"read": 5, "kept": 3, "dropped": 2}
    assert "2000-06-01 to 2005-02-01" in str(report.filter["counted_over"])
    assert report.notes == {"products reviewed under more than one category": 2}
    assert {"posts", "events", "payments", "merchants"} <= set(report.absent)
    written = json.loads((tmp_path / "data" / "import_report.json").read_text())
    assert written == json.loads(report.to_json())


def test_a_tie_of_categories_goes_to_the_one_given_first(src: Path, tmp_path: Path) -> None:
    import_ciao(src, tmp_path / "data", min_product_reviews=3)
    circles = load_contract(tmp_path / "data")["circles"].set_index("circle_id")
    assert circles.loc["p300", "topic"] == "category 5"


def test_the_output_loads_whole_and_absent_tables_stay_absent(src: Path, tmp_path: Path) -> None:
    report = import_ciao(src, tmp_path / "data")
    data = load_contract(tmp_path / "data")
    assert data.report.quarantined == 0
    assert set(data.report.absent) == {
        "merchants",
        "posts",
        "payments",
        "transfers",
        "credit_scores",
        "events",
    }
    for table, rows in report.rows.items():
        assert data.report.tables[table].accepted == rows
    written = {p.name for p in (tmp_path / "data").glob("*.parquet")}
    assert written == {f"{t}.parquet" for t in ("users", "circles", "memberships", "social_edges")}


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "5"])
def test_a_bad_minimum_is_a_config_error(src: Path, tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigError, match="min_user_reviews"):
        import_ciao(src, tmp_path / "data", min_user_reviews=value)  # type: ignore[arg-type]


def test_a_filter_that_leaves_nothing_is_a_config_error(src: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="leaves nothing"):
        import_ciao(src, tmp_path / "data", min_product_reviews=7)


def test_a_missing_file_or_column_is_a_contract_error(src: Path, tmp_path: Path) -> None:
    (src / "trust.csv.gz").unlink()
    with pytest.raises(ContractError, match=r"trust\.csv\.gz is missing"):
        import_ciao(src, tmp_path / "data")
    pd.DataFrame({"truster_id": [1], "trusted": [2]}).to_csv(
        src / "trust.csv.gz", index=False, compression="gzip"
    )
    with pytest.raises(ContractError, match="trustee_id"):
        import_ciao(src, tmp_path / "data")


def test_an_output_holding_a_table_ciao_lacks_is_refused(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "posts.parquet").write_bytes(b"")
    with pytest.raises(OutputError, match=r"posts\.parquet"):
        import_ciao(src, out)
    (out / "posts.parquet").unlink()
    import_ciao(src, out)
    import_ciao(src, out, min_product_reviews=3)  # its own tables are overwritten
    assert load_contract(out).report.tables["circles"].accepted == 3


def test_the_command_line(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data"
    argv = ["-q", "import", "ciao", "--src", str(src), "--out", str(out)]
    assert main([*argv, "--min-product-reviews", "3", "--min-user-reviews", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rows"]["circles"] == 3
    assert printed["filter"]["min_product_reviews"] == 3
    assert json.loads((out / "import_report.json").read_text()) == printed

    assert main([*argv, "--min-user-reviews", "0"]) == 2
    err = capsys.readouterr().err
    assert "--min-user-reviews must be a whole number >= 1, got 0" in err
    assert "Traceback" not in err
    lastfm = ["-q", "import", "lastfm", "--src", str(src), "--out", str(tmp_path / "l")]
    assert main([*lastfm, "--min-product-reviews", "5"]) == 2
    assert "--min-product-reviews applies only to ciao" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--min-product-reviews", "five"])
    assert exit_info.value.code == 2
    assert "'five' is not a whole number; give digits only, e.g. 5" in capsys.readouterr().err


@pytest.mark.skipif(not REAL.is_dir(), reason="the Ciao data is not on this machine")
def test_the_real_data(tmp_path: Path) -> None:
    report = import_ciao(REAL, tmp_path / "data")
    assert report.rows == {
        "users": 6540,
        "circles": 9260,
        "memberships": 126353,
        "social_edges": 28386,
    }
    data = load_contract(tmp_path / "data")
    assert data.report.quarantined == 0
