"""The Last.fm importer: contract tables the reader accepts whole, absent signals left
absent, refused rows counted. On generated files in the data set's format (the real
data's license does not allow shipping it), and on a 50-user slice of the real data
when it is on this machine."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from circlerank.cli.main import main
from features.contract import load_contract

from .lastfm_files import generated_lastfm, write_table

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "lastfm-hetrec2011"


def _check(src: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["-q", "import", "lastfm", "--src", str(src), "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    data = load_contract(out)
    assert data.report.quarantined == 0
    assert set(data.report.absent) >= {"payments", "credit_scores", "transfers", "events"}
    for table, rows in report["rows"].items():
        assert data.report.tables[table].accepted == rows
    return report


def test_generated_files_import_without_a_quarantined_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generated_lastfm(tmp_path / "src")
    report = _check(tmp_path / "src", tmp_path / "data", capsys)
    assert report["left_out"] == {
        "tag assignments on artists missing from artists.dat": 1,
        "tag assignments dated before 2005": 1,
    }
    data = load_contract(tmp_path / "data")
    circles = data["circles"].set_index("circle_id")
    assert "chanson française" in set(circles["topic"])  # latin-1 tags read right
    edges = data["social_edges"]
    assert not edges.duplicated(["user_id", "other_id"]).any()  # one row per mutual pair
    assert (data["memberships"]["circle_id"].isin(circles.index)).all()


@pytest.mark.skipif(not REAL.is_dir(), reason="the Last.fm data is not on this machine")
def test_a_50_user_slice_of_the_real_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "slice"
    src.mkdir()
    listens = pd.read_csv(REAL / "user_artists.dat", sep="\t")
    users = set(sorted(listens["userID"].unique())[:50])
    for name in ("artists.dat", "tags.dat"):
        (src / name).write_bytes((REAL / name).read_bytes())
    write_table(src, "user_artists.dat", listens[listens["userID"].isin(users)])
    friends = pd.read_csv(REAL / "user_friends.dat", sep="\t")
    write_table(
        src,
        "user_friends.dat",
        friends[friends["userID"].isin(users) & friends["friendID"].isin(users)],
    )
    tagged = pd.read_csv(REAL / "user_taggedartists.dat", sep="\t")
    write_table(src, "user_taggedartists.dat", tagged[tagged["userID"].isin(users)])
    report = _check(src, tmp_path / "data", capsys)
    assert report["rows"]["users"] == 50
