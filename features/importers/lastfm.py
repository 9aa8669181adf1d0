"""HetRec 2011 Last.fm (hetrec2011-lastfm-2k) into the data contract.

Source: https://grouplens.org/datasets/hetrec-2011/ (non-commercial research use;
cite Cantador, Brusilovsky and Kuflik, HetRec 2011, RecSys 2011).

| contract table | from | how |
|---|---|---|
| users | every user id in the files | `u<id>`; registered_at = the data set's first date |
| circles | artists.dat | an artist is a circle `a<id>`, topic = its most used tag |
| memberships | user_artists.dat | a user who listened to an artist is a member |
| social_edges | user_friends.dat | one `friend` row per mutual pair |
| posts | user_taggedartists.dat | a dated tag assignment: the user's post in the circle |

Listening counts, payments, credit scores, transfers, merchants and logged events do
not exist in this data: those tables are left absent, never faked. Listening data has
no dates, so memberships and friendships carry the data set's first date.

Rows the contract would refuse are left out here and counted in the report:
- tag assignments on artists missing from artists.dat;
- tag assignments dated before 2005 (Last.fm's tag data starts in 2005; a few rows say
  1956, 1957 or 1979).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from circlerank.errors import ContractError, OutputError

FILES = (
    "artists.dat",
    "user_artists.dat",
    "user_friends.dat",
    "user_taggedartists.dat",
    "tags.dat",
)
FIRST_PLAUSIBLE = pd.Timestamp("2005-01-01", tz="UTC")
UNTAGGED = "untagged"


@dataclass
class ImportReport:
    source: str
    rows: dict[str, int] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)
    absent: list[str] = field(
        default_factory=lambda: ["merchants", "payments", "transfers", "credit_scores", "events"]
    )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    def write(self, out: Path, tables: dict[str, pd.DataFrame]) -> None:
        """Write `tables` as contract Parquet files and this report, counting their
        rows, to `out` (created if missing)."""
        try:
            out.mkdir(parents=True, exist_ok=True)
            for name, frame in tables.items():
                frame.to_parquet(out / f"{name}.parquet", index=False)
                self.rows[name] = len(frame)
            (out / "import_report.json").write_text(self.to_json() + "\n")
        except OSError as exc:
            raise OutputError(f"cannot write {out}: {exc}") from exc


def _read(src: Path, name: str, encoding: str = "utf-8") -> pd.DataFrame:
    path = src / name
    if not path.is_file():
        raise ContractError(f"{src}: {name} is missing (expected the hetrec2011-lastfm-2k files)")
    try:
        return pd.read_csv(path, sep="\t", encoding=encoding, quoting=3, dtype=str)
    except (OSError, ValueError) as exc:
        raise ContractError(f"{path}: cannot read as tab-separated text ({exc})") from exc


def _ids(prefix: str, values: pd.Series) -> pd.Series:
    return (prefix + values.astype(str)).astype(object)


def import_lastfm(src: str | Path, out: str | Path) -> ImportReport:
    """Write the contract tables of the Last.fm data in `src` to `out` (Parquet)."""
    src, out = Path(src), Path(out)
    report = ImportReport(str(src))
    artists = _read(src, "artists.dat")
    listens = _read(src, "user_artists.dat")
    friends = _read(src, "user_friends.dat")
    tagged = _dated_tags(_read(src, "user_taggedartists.dat"), artists, report)
    tags = _read(src, "tags.dat", encoding="latin-1")
    epoch = tagged["ts"].min()  # undated rows carry the data's first date
    user_ids = pd.unique(
        pd.concat([listens["userID"], friends["userID"], friends["friendID"], tagged["userID"]])
    )
    tables = {
        "users": pd.DataFrame({"user_id": _ids("u", pd.Series(user_ids)), "registered_at": epoch}),
        "circles": _circles(artists, tagged, tags, epoch),
        "memberships": pd.DataFrame(
            {
                "user_id": _ids("u", listens["userID"]),
                "circle_id": _ids("a", listens["artistID"]),
                "joined_at": epoch,
                "left_at": pd.Series([pd.NaT] * len(listens), dtype="datetime64[us, UTC]"),
            }
        ),
        "social_edges": _friend_edges(friends, epoch),
        "posts": _tag_posts(tagged.reset_index(drop=True)),
    }
    report.write(out, tables)
    return report


def _dated_tags(tagged: pd.DataFrame, artists: pd.DataFrame, report: ImportReport) -> pd.DataFrame:
    """Tag assignments on known artists, dated (`ts`) from 2005 on; the rest counted."""
    when = pd.to_datetime(tagged[["year", "month", "day"]].astype(int), errors="coerce", utc=True)
    known_artist = tagged["artistID"].isin(artists["id"])
    plausible = when >= FIRST_PLAUSIBLE
    report.left_out["tag assignments on artists missing from artists.dat"] = int(
        (~known_artist).sum()
    )
    report.left_out["tag assignments dated before 2005"] = int((known_artist & ~plausible).sum())
    return tagged[known_artist & plausible].assign(ts=when[known_artist & plausible])


def _circles(
    artists: pd.DataFrame, tagged: pd.DataFrame, tags: pd.DataFrame, epoch: pd.Timestamp
) -> pd.DataFrame:
    """One open circle per artist, its topic the artist's most used tag."""
    tag_name = dict(zip(tags["tagID"], tags["tagValue"], strict=True))
    most_used = (
        tagged.groupby(["artistID", "tagID"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["artistID", "n", "tagID"], ascending=[True, False, True])
        .drop_duplicates("artistID")
    )
    topic = dict(zip(most_used["artistID"], most_used["tagID"].map(tag_name), strict=True))
    return pd.DataFrame(
        {
            "circle_id": _ids("a", artists["id"]),
            "name": artists["name"].fillna("").astype(object),
            "topic": artists["id"].map(topic).fillna(UNTAGGED).astype(object),
            "created_at": epoch,
            "creator_id": pd.Series([None] * len(artists), dtype=object),
            "min_credit_score": pd.array([pd.NA] * len(artists), dtype="Int64"),
            "is_official": False,
        }
    )


def _friend_edges(friends: pd.DataFrame, epoch: pd.Timestamp) -> pd.DataFrame:
    """One `friend` edge per unordered pair."""
    a, b = friends["userID"].astype(int), friends["friendID"].astype(int)
    pairs = pd.DataFrame({"lo": a.where(a < b, b), "hi": b.where(a < b, a)}).drop_duplicates()
    return pd.DataFrame(
        {
            "user_id": _ids("u", pairs["lo"]),
            "other_id": _ids("u", pairs["hi"]),
            "created_at": epoch,
            "kind": "friend",
        }
    )


def _tag_posts(tagged: pd.DataFrame) -> pd.DataFrame:
    """Each dated tag assignment as a member-made text post in the artist's circle."""
    return pd.DataFrame(
        {
            "post_id": ("t" + pd.Series(range(len(tagged))).astype(str)).astype(object),
            "circle_id": _ids("a", tagged["artistID"]),
            "author_id": _ids("u", tagged["userID"]),
            "created_at": tagged["ts"],
            "media_type": "text",
            "is_official": False,
            "deleted_at": pd.Series([pd.NaT] * len(tagged), dtype="datetime64[us, UTC]"),
        }
    )
