"""Files in the HetRec 2011 Last.fm format, generated (the real data's license does not
allow shipping it), with the edge cases the importer must handle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def write_table(directory: Path, name: str, frame: pd.DataFrame, encoding: str = "utf-8") -> None:
    frame.to_csv(directory / name, sep="\t", index=False, encoding=encoding)


def generated_lastfm(directory: Path, users: int = 50, seed: int = 0) -> None:
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
    write_table(directory, "artists.dat", artists)
    write_table(directory, "user_artists.dat", listens)
    write_table(directory, "user_friends.dat", friends.drop_duplicates())
    write_table(directory, "tags.dat", tags, encoding="latin-1")
    write_table(directory, "user_taggedartists.dat", pd.concat([tagged, odd]))
