"""Ciao reviews and trust (Tang, Gao and Liu) into the data contract.

Source: `rating_with_timestamp.mat` and `trust.mat` of J. Tang, H. Gao and H. Liu
(Arizona State University), as `ratings.csv.gz` and `trust.csv.gz`. For research use;
cite mTrust (WSDM 2012) and eTrust (KDD 2012). The copy this reads holds the reviews
dated before 2009-01-01.

- users: `u<id>`, one per reviewer; registered_at = the user's first review in the file.
- circles: a product is a circle `p<id>`, named `product <id>` (product names are not
  published), topic `category <n>`, created_at = the product's first review in the file.
- memberships: a user who reviewed a product is a member, joined at the review's time;
  a user's repeat reviews of one product make one membership, at the earliest.
- social_edges: a trust row becomes a directed `follow` edge, truster -> trustee.

A product's topic is the category most of its reviews give (87 products of the real file
are reviewed under more than one); on a tie, the one given first. Ratings and helpfulness
have no contract column and are not carried. Posts, payments, credit scores, transfers,
merchants and logged events do not exist in this data: those tables are left absent,
never faked, and so are the optional columns the data has nothing for (city, creator_id,
is_official, left_at, ...). An output directory that already holds one of those tables
is refused, so that a stale file cannot pass for Ciao data.

Trust is undated in the source, so, as the Last.fm importer does for its undated friend
edges, every `follow` edge carries the data set's first date (the earliest review in the
file). The edges are the trust graph as it was crawled, so an edge may have formed after
a decision it is visible to: a point-in-time leak the data cannot avoid.

The filter. Most products have one or two reviewers, which says nothing about who would
join them. Repeat until nothing changes: drop every product with fewer than
`min_product_reviews` distinct reviewers among the kept users, then every user with
fewer than `min_user_reviews` reviewed products among the kept products. At the fixed
point every kept product has at least `min_product_reviews` members and every kept user
at least `min_user_reviews` memberships. The counts run over every review in the file
(2000-05-30 to 2008-12-31), so later activity decides which products and users exist:
a product kept because of its 2008 reviews is a circle from its first review in 2001.
Trust edges with an endpoint filtered out are dropped. The defaults, 5 reviewers and 2
reviewed products, keep circles with some audience and users with a membership to learn
from and another to judge by. The settings and what each step
kept and dropped are in `import_report.json` under `filter` and `left_out`.

What the filter keeps of the real file (fixed point; 1/1 keeps everything):

| products >= | users >= | products | users | memberships | follow edges |
|---|---|---|---|---|---|
| 1 | 1 | 78,265 | 6,898 | 228,006 | 33,521 |
| 3 | 2 | 17,835 | 6,740 | 155,365 | 30,622 |
| 5 | 2 | 9,260 | 6,540 | 126,353 | 28,386 |
| 5 | 5 | 8,821 | 5,350 | 120,891 | 20,624 |
| 10 | 2 | 3,684 | 6,081 | 90,349 | 24,431 |

Rows the contract would refuse (a missing or unreadable id, category or time; a trust
edge to oneself or repeated) are left out here and counted in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from circlerank.errors import ConfigError, ContractError, OutputError

from .lastfm import ImportReport

RATINGS = "ratings.csv.gz"
TRUST = "trust.csv.gz"
RATING_COLUMNS = ("user_id", "product_id", "category_id", "ts")
TRUST_COLUMNS = ("truster_id", "trustee_id")
MIN_PRODUCT_REVIEWS = 5
MIN_USER_REVIEWS = 2
ABSENT = ["merchants", "posts", "payments", "transfers", "credit_scores", "events"]


@dataclass
class CiaoImportReport(ImportReport):
    """The Last.fm report plus the filter's settings and counts, and mapping notes."""

    filter: dict[str, object] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)


def _read(src: Path, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    path = src / name
    if not path.is_file():
        raise ContractError(
            f"{src}: {name} is missing (expected the Ciao files {RATINGS}, {TRUST})"
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, EOFError) as exc:
        raise ContractError(f"{path}: cannot read as gzipped CSV ({exc})") from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ContractError(
            f"{path}: column(s) {', '.join(missing)} missing "
            f"(columns present: {', '.join(frame.columns) or 'none'})"
        )
    return frame[list(columns)].apply(lambda s: s.str.strip())


def _ids(prefix: str, values: pd.Series) -> pd.Series:
    return (prefix + values.astype(str)).astype(object)


def _check_minimum(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a whole number >= 1, got {value!r}")
    return value


def _counts(read: int, kept: int) -> dict[str, int]:
    return {"read": read, "kept": kept, "dropped": read - kept}


def filter_pairs(
    pairs: pd.DataFrame, min_product_reviews: int, min_user_reviews: int
) -> tuple[pd.DataFrame, int]:
    """The (user_id, product_id) rows left at the fixed point of the filter (see the
    module's docstring), and how many passes it took (the last one removes nothing)."""
    kept, passes = pairs, 0
    while True:
        passes += 1
        per_product = kept["product_id"].value_counts()
        step = kept[kept["product_id"].isin(per_product.index[per_product >= min_product_reviews])]
        per_user = step["user_id"].value_counts()
        step = step[step["user_id"].isin(per_user.index[per_user >= min_user_reviews])]
        if len(step) == len(kept):
            return kept, passes
        kept = step


def _topics(reviews: pd.DataFrame) -> pd.Series:
    """Per product: the category most of its reviews give; on a tie, the one given first."""
    per = (
        reviews.groupby(["product_id", "category_id"])["ts"]
        .agg(["size", "min"])
        .reset_index()
        .sort_values(
            ["product_id", "size", "min", "category_id"], ascending=[True, False, True, True]
        )
        .drop_duplicates("product_id")
    )
    return pd.Series(per["category_id"].to_numpy(), index=per["product_id"].to_numpy())


def _refuse_stale_tables(out: Path) -> None:
    from features.contract.schema import TABLE_NAMES

    written = {"users", "circles", "memberships", "social_edges"}
    stale = [
        path.name
        for name in TABLE_NAMES
        if name not in written
        for path in (out / f"{name}.parquet", out / f"{name}.csv")
        if path.exists()
    ]
    if stale:
        raise OutputError(
            f"{out} already holds {', '.join(stale)}, which the Ciao data does not have; "
            "import into an empty directory"
        )


def import_ciao(
    src: str | Path,
    out: str | Path,
    min_product_reviews: int = MIN_PRODUCT_REVIEWS,
    min_user_reviews: int = MIN_USER_REVIEWS,
) -> CiaoImportReport:
    """Write the contract tables of the Ciao data in `src` to `out` (Parquet).

    Keeps, at the fixed point of the filter, products with at least
    `min_product_reviews` distinct reviewers and users with at least `min_user_reviews`
    reviewed products, counted over every review in the file (so later activity decides
    which products exist). Returns the report also written to `out/import_report.json`.
    """
    minimums = (
        _check_minimum("min_product_reviews", min_product_reviews),
        _check_minimum("min_user_reviews", min_user_reviews),
    )
    src, out = Path(src), Path(out)
    report = CiaoImportReport(str(src), absent=list(ABSENT))
    ratings = _read(src, RATINGS, RATING_COLUMNS)
    trust = _read(src, TRUST, TRUST_COLUMNS)
    _refuse_stale_tables(out)
    reviews = _readable_reviews(src, ratings, report)
    pairs = reviews.groupby(["user_id", "product_id"], as_index=False)["ts"].min()
    report.left_out["repeat reviews of a product by the same user"] = len(reviews) - len(pairs)
    kept, passes = _kept_pairs(pairs, reviews, minimums, report)
    tables = _review_tables(reviews, kept)
    follows, trusted = _follows(trust, pairs, kept["user_id"].unique(), report)
    tables["social_edges"] = pd.DataFrame(
        {
            "user_id": _ids("u", follows["truster_id"]),
            "other_id": _ids("u", follows["trustee_id"]),
            "created_at": reviews["ts"].min(),  # undated: the data's first date
            "kind": "follow",
        }
    )
    report.filter = _filter_summary(reviews, pairs, kept, minimums, passes)
    report.filter["follow_edges"] = _counts(trusted, len(follows))
    report.write(out, tables)
    return report


def _readable_reviews(src: Path, ratings: pd.DataFrame, report: CiaoImportReport) -> pd.DataFrame:
    """The ratings rows with every id, the category and a readable time."""
    when = pd.to_datetime(ratings["ts"], utc=True, format="ISO8601", errors="coerce")
    readable = ratings[["user_id", "product_id", "category_id"]].notna().all(axis=1)
    readable &= when.notna()
    report.left_out["ratings rows with a missing or unreadable id, category or ts"] = int(
        (~readable).sum()
    )
    reviews = ratings[readable].assign(ts=when[readable])
    if reviews.empty:
        raise ContractError(f"{src / RATINGS}: no readable review")
    return reviews


def _kept_pairs(
    pairs: pd.DataFrame,
    reviews: pd.DataFrame,
    minimums: tuple[int, int],
    report: CiaoImportReport,
) -> tuple[pd.DataFrame, int]:
    """The (user, product) pairs the filter keeps and its number of passes; what it left
    out goes to the report."""
    min_product_reviews, min_user_reviews = minimums
    kept, passes = filter_pairs(pairs, min_product_reviews, min_user_reviews)
    n_products, n_users = pairs["product_id"].nunique(), pairs["user_id"].nunique()
    if kept.empty:
        raise ConfigError(
            f"the filter (products >= {min_product_reviews} reviewers, users >= "
            f"{min_user_reviews} reviewed products) leaves nothing of {n_products} products "
            f"and {n_users} users; lower the minimums (--min-product-reviews, "
            "--min-user-reviews)"
        )
    left = report.left_out
    left[f"products with fewer than {min_product_reviews} reviewers"] = n_products - int(
        kept["product_id"].nunique()
    )
    left[f"users with fewer than {min_user_reviews} reviewed products"] = n_users - int(
        kept["user_id"].nunique()
    )
    left["memberships in dropped products or of dropped users"] = len(pairs) - len(kept)
    report.notes["products reviewed under more than one category"] = int(
        (reviews.groupby("product_id")["category_id"].nunique() > 1).sum()
    )
    return kept, passes


def _review_tables(reviews: pd.DataFrame, kept: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """users, circles (products) and memberships (first reviews) of the kept pairs."""
    products = pd.Series(sorted(kept["product_id"].unique()), dtype=object)
    user_ids = pd.Series(sorted(kept["user_id"].unique()), dtype=object)
    by_product = reviews.groupby("product_id")["ts"].min()
    circles = pd.DataFrame(
        {
            "circle_id": _ids("p", products),
            "name": _ids("product ", products),
            "topic": _ids("category ", products.map(_topics(reviews))),
            "created_at": products.map(by_product),
        }
    )
    by_user = reviews.groupby("user_id")["ts"].min()
    users = pd.DataFrame({"user_id": _ids("u", user_ids), "registered_at": user_ids.map(by_user)})
    kept = kept.sort_values(["ts", "user_id", "product_id"], kind="stable", ignore_index=True)
    memberships = pd.DataFrame(
        {
            "user_id": _ids("u", kept["user_id"]),
            "circle_id": _ids("p", kept["product_id"]),
            "joined_at": kept["ts"],
        }
    )
    return {"users": users, "circles": circles, "memberships": memberships}


def _follows(
    trust: pd.DataFrame, pairs: pd.DataFrame, users: np.ndarray, report: CiaoImportReport
) -> tuple[pd.DataFrame, int]:
    """The trust edges between kept users, and how many had two reviewers as endpoints;
    what was left out goes to the report."""
    complete = trust.dropna()
    report.left_out["trust rows with a missing id"] = len(trust) - len(complete)
    edges = complete[complete["truster_id"] != complete["trustee_id"]].drop_duplicates()
    report.left_out["trust edges to oneself or repeated"] = len(complete) - len(edges)
    reviewed = pd.Index(pairs["user_id"].unique())
    known = edges["truster_id"].isin(reviewed) & edges["trustee_id"].isin(reviewed)
    report.left_out["trust edges with an endpoint who wrote no review"] = int((~known).sum())
    inside = edges["truster_id"].isin(users) & edges["trustee_id"].isin(users)
    report.left_out["trust edges with an endpoint filtered out"] = int((known & ~inside).sum())
    return edges[inside], int(known.sum())


def _filter_summary(
    reviews: pd.DataFrame,
    pairs: pd.DataFrame,
    kept: pd.DataFrame,
    minimums: tuple[int, int],
    passes: int,
) -> dict[str, object]:
    min_product_reviews, min_user_reviews = minimums
    return {
        "min_product_reviews": min_product_reviews,
        "min_user_reviews": min_user_reviews,
        "rule": (
            "repeat until nothing changes: drop products with fewer than min_product_reviews "
            "distinct reviewers among kept users, then users with fewer than "
            "min_user_reviews reviewed products among kept products"
        ),
        "counted_over": (
            f"every review in the file, {reviews['ts'].min():%Y-%m-%d} to "
            f"{reviews['ts'].max():%Y-%m-%d}: later activity decides which products and "
            "users exist"
        ),
        "passes": passes,
        "products": _counts(pairs["product_id"].nunique(), kept["product_id"].nunique()),
        "users": _counts(pairs["user_id"].nunique(), kept["user_id"].nunique()),
        "memberships": _counts(len(pairs), len(kept)),
    }
