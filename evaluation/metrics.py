"""Ranking metrics per user, vectorised, with trec_eval's semantics by default.

A run is (user_id, item_id, score) rows; qrels are (user_id, item_id, gain) rows, the
judged items of each user with a graded gain (0 = judged not relevant). The defaults
reproduce trec_eval (and pytrec_eval) exactly:

- users: only those in both the run and the qrels are evaluated; a user whose qrels hold
  no relevant item scores 0 on every measure and counts in the mean
  (`no_relevant="skip"` drops such users instead, as many recommender libraries do);
- ties: items with equal scores are ordered by item id, descending (`ties="run_order"`
  keeps the order of the run's rows instead);
- relevance: an item is relevant when its gain >= `relevance_level` (1);
- P@k divides by k even when fewer items were retrieved; AP divides by the number of
  relevant judged items R (`ap_denominator="min_r_k"` divides AP@k by min(R, k));
- NDCG uses the gain itself (graded; `binary_gain=True` uses 1 for relevant) with a
  log2(rank + 1) discount; the ideal ranking sorts every judged gain of the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from circlerank.errors import ConfigError

MEASURES = ("precision", "recall", "hit_rate", "map", "mrr", "ndcg")


@dataclass(frozen=True)
class MetricOptions:
    relevance_level: float = 1.0
    no_relevant: Literal["zero", "skip"] = "zero"
    ties: Literal["trec_eval", "run_order"] = "trec_eval"
    ap_denominator: Literal["relevant", "min_r_k"] = "relevant"
    binary_gain: bool = False


@dataclass(frozen=True)
class _Ranked:
    """The run sorted into ranked lists, joined to the qrels."""

    users: np.ndarray  # distinct evaluated users, in order
    start: np.ndarray  # first row of each user's list in the arrays below
    rank: np.ndarray  # 1-based rank of each row within its user's list
    user: np.ndarray  # each row's user index into `users`
    gain: np.ndarray  # each row's judged gain (0 when unjudged)
    relevant: np.ndarray  # bool per row
    n_relevant: np.ndarray  # R per user
    ideal: list[np.ndarray]  # each user's judged gains, best first


def _check(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"{what}: missing column(s) {missing}; has {list(frame.columns)}")


def _rank(run: pd.DataFrame, qrels: pd.DataFrame, options: MetricOptions) -> _Ranked:
    _check(run, ("user_id", "item_id", "score"), "run")
    _check(qrels, ("user_id", "item_id", "gain"), "qrels")
    judged = qrels.drop_duplicates(["user_id", "item_id"], keep="last")
    gain_of = judged.set_index(["user_id", "item_id"])["gain"].astype(np.float64)
    n_relevant = (judged["gain"] >= options.relevance_level).groupby(judged["user_id"]).sum()
    users = pd.Index(pd.unique(run["user_id"])).intersection(n_relevant.index, sort=False)
    if options.no_relevant == "skip":
        users = users[n_relevant.reindex(users).to_numpy() > 0]
    rows = run[run["user_id"].isin(users)].drop_duplicates(["user_id", "item_id"])
    user_code = pd.Index(users).get_indexer(rows["user_id"])
    score = rows["score"].to_numpy(dtype=np.float64)
    if options.ties == "trec_eval":
        item_order = pd.Index(rows["item_id"].astype(str)).argsort()  # ascending ids
        descending_id = np.empty(len(rows), dtype=np.int64)
        descending_id[item_order] = np.arange(len(rows))[::-1]
        order = np.lexsort((descending_id, -score, user_code))
    else:
        order = np.lexsort((np.arange(len(rows)), -score, user_code))
    user = user_code[order]
    keys = pd.MultiIndex.from_arrays(
        [rows["user_id"].to_numpy()[order], rows["item_id"].to_numpy()[order]]
    )
    gain = gain_of.reindex(keys).fillna(0.0).to_numpy()
    start = np.searchsorted(user, np.arange(len(users)))
    rank = np.arange(len(user)) - start[user] + 1
    by_user = judged.groupby("user_id")["gain"]
    ideal = [np.sort(by_user.get_group(u).to_numpy(dtype=np.float64))[::-1] for u in users]
    return _Ranked(
        users=np.asarray(users, dtype=object),
        start=start,
        rank=rank,
        user=user,
        gain=gain,
        relevant=gain >= options.relevance_level,
        n_relevant=n_relevant.reindex(users).to_numpy(dtype=np.float64),
        ideal=ideal,
    )


def _per_user_sum(r: _Ranked, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.bincount(r.user[mask], weights=values[mask], minlength=len(r.users))


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0)


def per_user(
    run: pd.DataFrame,
    qrels: pd.DataFrame,
    k: int | None = 10,
    options: MetricOptions | None = None,
) -> pd.DataFrame:
    """One row per evaluated user: precision, recall, hit_rate, map, mrr and ndcg, each
    at cut-off k (None = the whole list; trec_eval's P, recall and success need k)."""
    options = options or MetricOptions()
    if k is not None and k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    r = _rank(run, qrels, options)
    top = np.ones(len(r.rank), dtype=bool) if k is None else r.rank <= k
    hits = _per_user_sum(r, np.ones(len(r.rank)), top & r.relevant)
    out = {"precision": hits / k if k is not None else np.full(len(r.users), np.nan)}
    out["recall"] = _divide(hits, r.n_relevant)
    out["hit_rate"] = (hits > 0).astype(np.float64)
    # AP: precision at each relevant retrieved rank, summed, over R
    cumulative = np.cumsum(r.relevant.astype(np.float64))
    before = np.concatenate([[0.0], cumulative])[r.start][r.user]
    precision_at = (cumulative - before) / r.rank
    ap_sum = _per_user_sum(r, precision_at, top & r.relevant)
    denominator = r.n_relevant
    if options.ap_denominator == "min_r_k" and k is not None:
        denominator = np.minimum(r.n_relevant, k)
    out["map"] = _divide(ap_sum, denominator)
    first = np.full(len(r.users), np.inf)
    np.minimum.at(first, r.user[top & r.relevant], r.rank[top & r.relevant])
    out["mrr"] = np.where(np.isfinite(first), 1.0 / first, 0.0)
    gains = (r.relevant.astype(np.float64)) if options.binary_gain else np.maximum(r.gain, 0.0)
    dcg = _per_user_sum(r, gains / np.log2(r.rank + 1.0), top)
    idcg = np.array([_ideal_dcg(g, k, options) for g in r.ideal])
    out["ndcg"] = _divide(dcg, idcg)
    return pd.DataFrame(out, index=pd.Index(r.users, name="user_id"))


def _ideal_dcg(gains: np.ndarray, k: int | None, options: MetricOptions) -> float:
    if options.binary_gain:
        gains = (gains >= options.relevance_level).astype(np.float64)
        gains = np.sort(gains)[::-1]
    gains = np.maximum(gains, 0.0)[:k]
    return float(np.sum(gains / np.log2(np.arange(2, len(gains) + 2))))


def mean_metrics(
    run: pd.DataFrame,
    qrels: pd.DataFrame,
    k: int | None = 10,
    options: MetricOptions | None = None,
) -> dict[str, float]:
    """The mean over evaluated users of each measure (trec_eval's "all" row)."""
    table = per_user(run, qrels, k, options)
    return {m: float(table[m].mean()) if len(table) else float("nan") for m in MEASURES}
