"""A temporal protocol for circle suggestions: train until T, suggest at T, judge by the
circles joined in the window after T.

Definitions, for a cut-off T and a window W (default one calendar year: T = 2008-01-01
judges the joins of 2008; `window_days` sets W in days instead), on the contract tables
as `load_contract` accepts them (timestamps in UTC):

- circles at T: circles with created_at < T; every ranking is restricted to them.
- held pairs: (user, circle) with a membership joined_at < T, whether or not it was left
  before T; every ranking masks them (a re-join after T is not a new circle).
- eligible users: registered_at < T and at least one membership joined_at < T (users
  with no membership before T are cold starts, another question).
- judged pairs: an eligible user's memberships with T <= joined_at < T + W, in circles at
  T, not held; one pair however often it was joined in the window. Each has gain 1.
- judged users: eligible users with at least one judged pair. Every model ranks exactly
  these users; a user a model leaves without a ranking scores 0 (evaluation/metrics.py's
  `per_user` would otherwise drop them).
- metrics: NDCG@10 and Recall@10 per judged user from `per_user` (trec_eval semantics;
  binary gains; rankings are given as distinct scores so its tie rule never applies),
  averaged over judged users. 95% intervals: percentile bootstrap over judged users
  (2,000 resamples, the same resamples for every model, so that the ratio of two models
  gets an interval of its own), or the normal approximation over per-user values.

Baselines, each masked as above, from the memberships before T only:

- popularity: circles by distinct users who joined before T (ties: circle id).
- recent popularity: circles by joins in the 180 days before T (ties: popularity, then
  circle id).
- implicit ALS: `implicit.als.AlternatingLeastSquares` on the binary user x circle matrix
  of memberships before T (circles at T), scored by dot products. Its setting is picked
  from ALS_GRID by NDCG@10 on the validation cut: the same protocol at T - W (train
  before T - W, judge the joins in [T - W, T)), which sees nothing at or after T.

The engine runs the product's commands with their defaults, as subprocesses, on a
directory of symlinks to the contract tables as they are (its quarantine is written
there, not beside the data):

    circlerank train --data DIR --out MODELS --until T
    circlerank rank --data DIR --models MODELS --surface circles --at T --users FILE
        --limit 10 --out RANKED.parquet

`train` learns before T itself (training/dataset.py `training_until`), and `rank`
refuses a bundle that saw rows at or after T (training/bundle.py `refuse_trained_after`).
Its ranks (0-based) become scores K - rank; its rows are masked like the baselines'
(a no-op when no membership was left before T: its `not_member` filter and catalog of
circles at T remove the same pairs).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from circlerank.errors import ConfigError

from .metrics import MetricOptions, per_user

K = 10
RECENT_DAYS = 180
RESAMPLES = 2000
METRICS = ("ndcg", "recall")
# ALS settings tried on the validation cut (the ones tried on Last.fm, evaluation/lastfm.py)
ALS_GRID: tuple[dict[str, Any], ...] = (
    {"factors": 64, "regularization": 0.1, "alpha": 10.0, "iterations": 15},
    {"factors": 64, "regularization": 0.05, "alpha": 5.0, "iterations": 30},
    {"factors": 128, "regularization": 0.5, "alpha": 10.0, "iterations": 15},
)
TABLES = ("users", "circles", "memberships")


def utc(value: str | pd.Timestamp) -> pd.Timestamp:
    """A timestamp in UTC; naive values are read as UTC (as `parse_as_of` does)."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _times(column: pd.Series) -> pd.Series:
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return column.dt.tz_convert("UTC")
    return pd.to_datetime(column, utc=True, format="ISO8601")


@dataclass(frozen=True)
class Protocol:
    """The judged world at one cut-off T (see the module's definitions)."""

    at: pd.Timestamp
    end: pd.Timestamp  # T + W: joins in [at, end) are judged
    circles: pd.Index  # circle ids with created_at < T, sorted
    eligible: pd.Index  # user ids existing at T with a membership before T, sorted
    before: pd.DataFrame  # user_id, circle_id, joined_at of the memberships before T
    held: pd.MultiIndex  # distinct (user_id, circle_id) of `before`: masked
    qrels: pd.DataFrame  # user_id, item_id, gain (1): the judged pairs

    @property
    def users(self) -> pd.Index:
        """The judged users, sorted."""
        return pd.Index(np.sort(self.qrels["user_id"].unique()), name="user_id")

    def stats(self) -> dict[str, int]:
        return {
            "circles_at_t": len(self.circles),
            "eligible_users": len(self.eligible),
            "judged_users": len(self.users),
            "judged_pairs": len(self.qrels),
            "held_pairs": len(self.held),
        }


def window(window_days: int | None = None) -> pd.DateOffset | pd.Timedelta:
    """W: one calendar year when `window_days` is None, else that many days."""
    if window_days is None:
        return pd.DateOffset(years=1)
    if window_days < 1:
        raise ConfigError(f"the window must be at least one day, got {window_days}")
    return pd.Timedelta(days=window_days)


def protocol(
    tables: Mapping[str, pd.DataFrame],
    at: str | pd.Timestamp,
    window_days: int | None = None,
) -> Protocol:
    """The protocol at `at` on the users, circles and memberships tables."""
    t = utc(at)
    end = t + window(window_days)
    users, circles, m = (tables[name] for name in TABLES)
    existing = circles.loc[(_times(circles["created_at"]) < t).to_numpy(), "circle_id"]
    circle_ids = pd.Index(np.sort(existing.unique().astype(object)), name="circle_id")
    joined = _times(m["joined_at"])
    before = m.loc[(joined < t).to_numpy(), ["user_id", "circle_id", "joined_at"]]
    before = before.reset_index(drop=True)
    registered = users.loc[(_times(users["registered_at"]) < t).to_numpy(), "user_id"]
    eligible = pd.Index(
        np.sort(np.intersect1d(registered.unique(), before["user_id"].unique())), name="user_id"
    )
    held = pd.MultiIndex.from_frame(before[["user_id", "circle_id"]].drop_duplicates())
    after = m.loc[((joined >= t) & (joined < end)).to_numpy(), ["user_id", "circle_id"]]
    after = after.drop_duplicates()
    keep = (
        after["user_id"].isin(eligible).to_numpy()
        & after["circle_id"].isin(circle_ids).to_numpy()
        & ~pd.MultiIndex.from_frame(after).isin(held)
    )
    qrels = (
        after[keep]
        .rename(columns={"circle_id": "item_id"})
        .assign(gain=1)
        .sort_values(["user_id", "item_id"])
        .reset_index(drop=True)
    )
    return Protocol(t, end, circle_ids, eligible, before, held, qrels)


def mask(run: pd.DataFrame, p: Protocol, k: int = K) -> pd.DataFrame:
    """A run (user_id, item_id, score) restricted to judged users and circles at T, held
    pairs removed, each user's top k by score (ties: the run's order)."""
    keep = (
        run["user_id"].isin(p.users).to_numpy()
        & run["item_id"].isin(p.circles).to_numpy()
        & ~pd.MultiIndex.from_arrays([run["user_id"], run["item_id"]]).isin(p.held)
    )
    kept = run[keep].drop_duplicates(["user_id", "item_id"])
    kept = kept.sort_values(["user_id", "score"], ascending=[True, False], kind="stable")
    return kept[kept.groupby("user_id").cumcount() < k].reset_index(drop=True)


def evaluate(run: pd.DataFrame, p: Protocol, k: int = K) -> pd.DataFrame:
    """NDCG@k and Recall@k per judged user (index: p.users), 0 where the masked run
    ranks nothing for the user."""
    run = mask(run, p, k)
    if len(run) == 0:
        return pd.DataFrame(0.0, index=p.users, columns=list(METRICS))
    table = per_user(run, p.qrels, k=k, options=MetricOptions(binary_gain=True))
    return table[list(METRICS)].reindex(p.users).fillna(0.0)


def _ranked_by_order(order: np.ndarray, p: Protocol, k: int) -> pd.DataFrame:
    """Every judged user's first k circles of one global order (circle ids, best first),
    held ones skipped."""
    users = p.users
    if len(users) == 0 or len(order) == 0:
        return pd.DataFrame({"user_id": [], "item_id": [], "score": []})
    held_per_user = pd.Series(p.held.get_level_values(0)).value_counts()
    depth = min(len(order), k + int(held_per_user.reindex(users).fillna(0).max()))
    top = order[:depth]
    run = pd.DataFrame(
        {
            "user_id": np.repeat(users.to_numpy(dtype=object), depth),
            "item_id": np.tile(top, len(users)),
            "score": np.tile(np.arange(depth, 0, -1, dtype=np.float64), len(users)),
        }
    )
    return mask(run, p, k)


def member_counts(p: Protocol) -> pd.Series:
    """Distinct users who joined each circle at T before T (0 for none)."""
    pairs = p.before.drop_duplicates(["user_id", "circle_id"])
    return pairs["circle_id"].value_counts().reindex(p.circles, fill_value=0)


def popularity(p: Protocol, k: int = K) -> pd.DataFrame:
    """Circles by distinct members before T; ties by circle id."""
    counts = member_counts(p)
    frame = pd.DataFrame({"circle_id": counts.index, "n": counts.to_numpy()})
    order = frame.sort_values(["n", "circle_id"], ascending=[False, True])["circle_id"]
    return _ranked_by_order(order.to_numpy(dtype=object), p, k)


def recent_popularity(p: Protocol, days: int = RECENT_DAYS, k: int = K) -> pd.DataFrame:
    """Circles by joins in the `days` before T; ties by popularity, then circle id."""
    since = p.at - pd.Timedelta(days=days)
    recent = p.before[(_times(p.before["joined_at"]) >= since).to_numpy()]
    joins = recent["circle_id"].value_counts().reindex(p.circles, fill_value=0)
    counts = member_counts(p)
    frame = pd.DataFrame(
        {"circle_id": p.circles, "recent": joins.to_numpy(), "n": counts.to_numpy()}
    )
    order = frame.sort_values(["recent", "n", "circle_id"], ascending=[False, False, True])
    return _ranked_by_order(order["circle_id"].to_numpy(dtype=object), p, k)


def als(
    p: Protocol,
    factors: int = 64,
    regularization: float = 0.1,
    alpha: float = 10.0,
    iterations: int = 15,
    seed: int = 0,
    k: int = K,
    batch: int = 1024,
) -> pd.DataFrame:
    """implicit's ALS on the binary user x circle matrix of memberships before T (all
    users, circles at T); each judged user's top k by dot product, held circles masked."""
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    pairs = p.before[p.before["circle_id"].isin(p.circles).to_numpy()]
    pairs = pairs.drop_duplicates(["user_id", "circle_id"])
    user_index = pd.Index(np.sort(pairs["user_id"].unique()))
    rows = user_index.get_indexer(pairs["user_id"])
    cols = p.circles.get_indexer(pairs["circle_id"])
    shape = (len(user_index), len(p.circles))
    matrix = sp.csr_matrix((np.ones(len(pairs), dtype=np.float32), (rows, cols)), shape=shape)
    with threadpool_limits(1, "blas"):  # implicit's own threads; BLAS's would fight them
        model = AlternatingLeastSquares(
            factors=int(factors),
            regularization=regularization,
            alpha=alpha,
            iterations=int(iterations),
            random_state=seed,
        )
        model.fit(matrix, show_progress=False)
    user_factors = np.asarray(model.user_factors)
    item_factors = np.asarray(model.item_factors)
    judged = user_index.get_indexer(p.users)  # every judged user held a circle: >= 0
    depth = min(k, len(p.circles))
    runs = []
    for start in range(0, len(judged), batch):
        chunk = judged[start : start + batch]
        scores = user_factors[chunk] @ item_factors.T
        scores[matrix[chunk].nonzero()] = -np.inf
        top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
        top_scores = np.take_along_axis(scores, top, axis=1)
        runs.append(
            pd.DataFrame(
                {
                    "user_id": np.repeat(user_index.to_numpy(dtype=object)[chunk], depth),
                    "item_id": p.circles.to_numpy(dtype=object)[top.ravel()],
                    "score": top_scores.ravel(),
                }
            )
        )
    run = pd.concat(runs, ignore_index=True) if runs else pd.DataFrame()
    return mask(run[np.isfinite(run["score"].to_numpy())], p, k) if len(run) else run


@dataclass(frozen=True)
class Tuned:
    setting: dict[str, Any]
    validation_ndcg: dict[str, float]  # setting (as text) -> NDCG@k on the validation cut
    run: pd.DataFrame  # the chosen setting's run at T


def tuned_als(
    tables: Mapping[str, pd.DataFrame],
    p: Protocol,
    window_days: int | None = None,
    grid: Sequence[dict[str, Any]] = ALS_GRID,
    seed: int = 0,
    k: int = K,
) -> Tuned:
    """ALS with the setting of `grid` best on the validation cut T - W (the first when
    that cut judges nobody), refitted on the memberships before T."""
    valid = protocol(tables, p.at - window(window_days), window_days)
    scores: dict[str, float] = {}
    best = dict(grid[0])
    if len(valid.users) > 0:
        best_score = -np.inf
        for setting in grid:
            score = float(evaluate(als(valid, seed=seed, k=k, **setting), valid, k)["ndcg"].mean())
            scores[json.dumps(setting)] = score
            if score > best_score:
                best, best_score = dict(setting), score
    return Tuned(best, scores, als(p, seed=seed, k=k, **best))


def intervals(
    per_user_tables: Mapping[str, pd.DataFrame],
    method: Literal["bootstrap", "normal"] = "bootstrap",
    level: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> pd.DataFrame:
    """Per model and metric: mean over judged users and its interval (low, high).
    bootstrap: percentile interval of the mean over `resamples` draws of users with
    replacement (the same draws for every model); normal: mean -/+ z * sd / sqrt(n)."""
    rows = []
    draws = _draws(per_user_tables, resamples, seed) if method == "bootstrap" else None
    z = _z(level)
    for name, table in per_user_tables.items():
        row: dict[str, Any] = {"model": name, "users": len(table)}
        for metric in METRICS:
            values = table[metric].to_numpy(np.float64)
            mean = float(values.mean()) if len(values) else float("nan")
            if draws is not None:
                low, high = _percentiles(_resampled_means(values, draws), level)
            elif len(values) > 1:
                half = z * float(values.std(ddof=1)) / np.sqrt(len(values))
                low, high = mean - half, mean + half
            else:
                low = high = float("nan")
            row |= {metric: mean, f"{metric}_low": low, f"{metric}_high": high}
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def ratio(
    numerator: pd.DataFrame,
    denominator: pd.DataFrame,
    metric: str = "ndcg",
    level: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[float, float, float]:
    """mean(numerator) / mean(denominator) of `metric` over the same users, with a
    paired percentile bootstrap interval (the same draws as `intervals`)."""
    tables = {"a": numerator, "b": denominator}
    if not numerator.index.equals(denominator.index):
        raise ConfigError("ratio: the two models were judged on different users")
    draws = _draws(tables, resamples, seed)
    a = numerator[metric].to_numpy(np.float64)
    b = denominator[metric].to_numpy(np.float64)
    point = float(a.mean() / b.mean()) if b.mean() > 0 else float("nan")
    ma, mb = _resampled_means(a, draws), _resampled_means(b, draws)
    ratios = np.divide(ma, mb, out=np.full_like(ma, np.nan), where=mb > 0)
    low, high = _percentiles(ratios[np.isfinite(ratios)], level)
    return point, low, high


def _z(level: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def _draws(tables: Mapping[str, pd.DataFrame], resamples: int, seed: int) -> np.ndarray:
    """Bootstrap draws: (resamples, n) row positions, n the users of the tables."""
    sizes = {len(t) for t in tables.values()}
    if len(sizes) > 1:
        raise ConfigError(f"models judged on different numbers of users: {sorted(sizes)}")
    n = sizes.pop() if sizes else 0
    return np.random.default_rng(seed).integers(0, max(n, 1), size=(resamples, n))


def _resampled_means(values: np.ndarray, draws: np.ndarray, chunk: int = 200) -> np.ndarray:
    if values.size == 0:
        return np.full(len(draws), np.nan)
    return np.concatenate(
        [values[draws[i : i + chunk]].mean(axis=1) for i in range(0, len(draws), chunk)]
    )


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    if values.size == 0 or np.isnan(values).all():
        return float("nan"), float("nan")
    low, high = np.nanpercentile(values, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


# --- the engine, through its own commands ---------------------------------------------


def circlerank_command() -> list[str]:
    """The `circlerank` entry point beside this interpreter, else the module."""
    script = Path(sys.executable).with_name("circlerank")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "circlerank.cli.main"]


@dataclass
class EngineRun:
    run: pd.DataFrame  # user_id, item_id, score (K - rank), as `rank` wrote them
    train_seconds: float
    rank_seconds: float
    train_summary: dict[str, Any] = field(default_factory=dict)  # train's JSON on stdout
    rank_log: str = ""  # rank's last stderr line


def link_tables(src: str | Path, dst: Path) -> Path:
    """A directory of symlinks to the contract tables of `src`, as they are."""
    from features.contract import TABLE_NAMES
    from features.contract.reader import table_file

    dst.mkdir(parents=True, exist_ok=True)
    for name in TABLE_NAMES:
        path = table_file(Path(src), name)
        if path is not None:
            (dst / path.name).symlink_to(path.resolve())
    return dst


def _call(command: list[str], what: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"{what} failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-4000:]}"
        )
    return done, seconds


def engine(data_dir: Path, p: Protocol, workdir: Path, k: int = K) -> EngineRun:
    """`circlerank train --until T` then `circlerank rank --at T` for the judged users,
    both with their defaults, on symlinks to the tables in `data_dir`."""
    tables = link_tables(data_dir, workdir / "data")
    models = workdir / "models"
    at = p.at.isoformat()
    cli = circlerank_command()
    trained, train_seconds = _call(
        [*cli, "train", "--data", str(tables), "--out", str(models), "--until", at],
        "circlerank train",
    )
    try:
        summary = json.loads(trained.stdout)
    except ValueError:
        summary = {}
    users = workdir / "users.txt"
    users.write_text("".join(f"{u}\n" for u in p.users))
    out = workdir / "ranked.parquet"
    command = [*cli, "rank", "--data", str(tables), "--models", str(models)]
    command += ["--surface", "circles", "--at", at, "--users", str(users)]
    command += ["--limit", str(k), "--out", str(out)]
    ranked, rank_seconds = _call(command, "circlerank rank")
    table = pd.read_parquet(out)
    run = pd.DataFrame(
        {
            "user_id": table["user_id"].astype(object).to_numpy(),
            "item_id": table["item_id"].astype(object).to_numpy(),
            "score": k - table["rank"].to_numpy(np.float64),
        }
    )
    last = ranked.stderr.strip().splitlines()
    return EngineRun(run, train_seconds, rank_seconds, summary, last[-1] if last else "")
