"""The Last.fm importer: contract tables the reader accepts whole, absent signals left
absent, refused rows counted. On generated files in the data set's format (the real
data's license does not allow shipping it), and on a 50-user slice of the real data
when it is on this machine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from circlerank.cli.main import main
from features.contract import load_contract

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "lastfm-hetrec2011"


def _write(directory: Path, name: str, frame: pd.DataFrame, encoding: str = "utf-8") -> None:
    frame.to_csv(directory / name, sep="\t", index=False, encoding=encoding)


def _generated(directory: Path, users: int = 50, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    artists = pd.DataFrame(
        {
            "id": range(1, 81),
            "name": [f"Artist {i}" for i in range(1, 81)],
            "url": "http://www.last.fm/music/x",
            "pictureURL": "http://x/y.jpg",
        }
    )
    listens = pd.DataFrame(
        [
            (u, int(a), int(rng.integers(1, 5000)))
            for u in range(2, users + 2)
            for a in rng.choice(80, 8, replace=False) + 1
        ],
        columns=["userID", "artistID", "weight"],
    )
    friends = pd.DataFrame(
        [(u, v) for u in range(2, users + 2) for v in rng.choice(range(2, users + 2), 2) if u != v],
        columns=["userID", "friendID"],
    )
    friends = pd.concat(
        [friends, friends.rename(columns={"userID": "friendID", "friendID": "userID"})]
    )
    tags = pd.DataFrame({"tagID": [1, 2, 3], "tagValue": ["metal", "chanson française", "jazz"]})
    tagged = pd.DataFrame(
        [
            (
                u,
                int(a),
                int(rng.integers(1, 4)),
                int(rng.integers(1, 28)),
                int(rng.integers(1, 13)),
                int(rng.integers(2005, 2011)),
            )
            for u in range(2, users + 2)
            for a in rng.choice(80, 3, replace=False) + 1
        ],
        columns=["userID", "artistID", "tagID", "day", "month", "year"],
    )
    odd = pd.DataFrame(
        [(2, 999, 1, 1, 1, 2008), (3, 1, 1, 1, 1, 1956)], columns=tagged.columns
    )  # an artist missing from artists.dat, and a date before Last.fm's tags
    _write(directory, "artists.dat", artists)
    _write(directory, "user_artists.dat", listens)
    _write(directory, "user_friends.dat", friends.drop_duplicates())
    _write(directory, "tags.dat", tags, encoding="latin-1")
    _write(directory, "user_taggedartists.dat", pd.concat([tagged, odd]))


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
    _generated(tmp_path / "src")
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
    _write(src, "user_artists.dat", listens[listens["userID"].isin(users)])
    friends = pd.read_csv(REAL / "user_friends.dat", sep="\t")
    _write(
        src,
        "user_friends.dat",
        friends[friends["userID"].isin(users) & friends["friendID"].isin(users)],
    )
    tagged = pd.read_csv(REAL / "user_taggedartists.dat", sep="\t")
    _write(src, "user_taggedartists.dat", tagged[tagged["userID"].isin(users)])
    report = _check(src, tmp_path / "data", capsys)
    assert report["rows"]["users"] == 50
