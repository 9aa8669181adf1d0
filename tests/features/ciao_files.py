"""Files in the format of the Ciao copy (`ratings.csv.gz`, `trust.csv.gz`), built by hand
so that every count the importer reports is known.

Reviewers of each product (distinct users; u1 reviews p100 twice):

| product | reviewers | categories given |
|---|---|---|
| 100 | 1 2 3 4 5 6 | 4 on every review |
| 200 | 1 2 3 4 5 | 7 7 7 9 9 |
| 300 | 1 2 3 4 7 | 2 2 5 5 6 (tie of 2 and 5: 5 is given first) |
| 400 | 7 8 | 1 1 |
| 500 | 8 | 1 |

With products >= 5 reviewers and users >= 2 reviewed products: pass 1 keeps p100, p200,
p300 and drops u6, u7 (one kept product each) and u8; pass 2 finds p300 down to 4
reviewers and drops it; pass 3 changes nothing. Left: p100, p200; u1..u5; 10 memberships.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

REVIEWS = [
    # user, product, category, ts (day)
    (6, 100, "4", "2000-06-01"),  # the file's first review: the data's first date
    (1, 100, "4", "2001-03-01"),
    (2, 100, "4", "2001-04-01"),
    (3, 100, "4", "2001-05-01"),
    (4, 100, "4", "2001-06-01"),
    (5, 100, "4", "2001-07-01"),
    (1, 100, "4", "2003-01-01"),  # a repeat review: the membership stays at 2001-03-01
    (1, 200, "7", "2002-01-01"),
    (2, 200, "7", "2002-02-01"),
    (3, 200, "7", "2002-03-01"),
    (4, 200, "9", "2002-04-01"),
    (5, 200, "9", "2002-05-01"),
    (3, 300, "5", "2000-07-01"),
    (4, 300, "5", "2000-08-01"),
    (1, 300, "2", "2000-09-01"),  # u1's first review, of a product the filter drops
    (2, 300, "2", "2000-10-01"),
    (7, 300, "6", "2004-01-01"),
    (7, 400, "1", "2004-02-01"),
    (8, 400, "1", "2005-01-01"),
    (8, 500, "1", "2005-02-01"),
]
UNREADABLE = [
    (3, 500, "1", "someday"),  # an unreadable time
    (2, 400, "", "2006-01-01"),  # no category
]
TRUST = [
    (1, 2),
    (2, 1),
    (3, 5),
    (1, 6),  # u6 is filtered out
    (7, 8),  # both filtered out
    (9, 1),  # u9 wrote no review
    (4, 4),  # to oneself
    (1, 2),  # repeated
]


def _ts(day: str) -> str:
    return f"{day}T07:00:00Z" if day[:1].isdigit() else day


def generated_ciao(directory: Path) -> None:
    """Write ratings.csv.gz and trust.csv.gz into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = [
        (user, product, category, 1 + (user + product) % 5, user % 6, _ts(day))
        for user, product, category, day in REVIEWS + UNREADABLE
    ]
    ratings = pd.DataFrame(
        rows, columns=["user_id", "product_id", "category_id", "rating", "helpfulness", "ts"]
    )
    ratings.to_csv(directory / "ratings.csv.gz", index=False, compression="gzip")
    trust = pd.DataFrame(TRUST, columns=["truster_id", "trustee_id"])
    trust.to_csv(directory / "trust.csv.gz", index=False, compression="gzip")
