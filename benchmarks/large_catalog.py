"""Circle suggestions on a large catalog: 100,000 circles, 50,000 users, 2,000,000
memberships (x --scale), trained from memberships alone and served with the default
circle_suggestions strategy.

Generates the contract tables (users with a city, circles, memberships, friend edges;
no events, posts or payments, as for an imported public data set): circle popularity is
long-tailed (Zipf), users fall in --clusters interest clusters and take most of their
circles from their cluster's (so collaborative models have something to learn), friends
mostly share a cluster. Writes them as Parquet to a temporary directory, runs
`circlerank train --data D --out M` on them in a fresh process (wall time, peak RSS and
its slowest stages), then, in another fresh process that loads data, bundle and a
feature snapshot as `circlerank rank` does (as of the bundle's seen_until):
- offline `rank` throughput: --rank-users users through the Replayer, in one process and
  in one forked worker per core (users/s, median of --runs runs);
- one request as the API ranks it: Pager.page for one user (the pipeline, then the
  page's explanations), --requests times after a warm-up, p50/p99 in all and per stage;
- peak RSS of that process.
Prints the figures with the machine and the commit; --json FILE writes them. Target:
p99 of one request <= 30 ms at full size.

    .venv/bin/python benchmarks/large_catalog.py [--scale 1.0] [--requests 500] [--json FILE]
    .venv/bin/python benchmarks/large_catalog.py --scale 0.1   # a smoke run, ~1 minute
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT), *(p for p in sys.path if Path(p or ".").resolve() != HERE)]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

USERS, CIRCLES, MEMBERSHIPS = 50_000, 100_000, 2_000_000
END = pd.Timestamp("2026-03-01T00:00:00Z")  # the data's last day
STAGE = re.compile(r"^\d\d:\d\d:\d\d (?P<what>.+) done in (?P<s>[\d.]+)s$")
SURFACE = "circle_suggestions"


def generate(out: Path, scale: float, clusters: int, seed: int) -> dict[str, int]:
    """Write users, circles, memberships and social_edges to `out`; rows per table."""
    rng = np.random.default_rng(seed)
    n_users = max(50, round(USERS * scale))
    n_circles = max(100, round(CIRCLES * scale))
    n_members = max(500, round(MEMBERSHIPS * scale))
    day = pd.Timedelta(days=1)

    # circles: a cluster each, and a long-tailed popularity (Zipf over a random order)
    circle_cluster = rng.integers(clusters, size=n_circles)
    popularity = 1.0 / (rng.permutation(n_circles) + 1.0) ** 0.9
    created = END - day * rng.uniform(800, 1500, n_circles)
    # users: clusters of uneven size, a long-tailed number of memberships each
    user_cluster = rng.choice(clusters, size=n_users, p=rng.dirichlet(np.full(clusters, 2.0)))
    registered = END - day * rng.uniform(30, 730, n_users)
    activity = rng.lognormal(0.0, 1.0, n_users)

    # memberships: 80% from the user's cluster, the rest from everywhere, by popularity;
    # drawn with room for repeats, then n_members distinct pairs kept at random
    pools = [np.flatnonzero(circle_cluster == k) for k in range(clusters)]
    pools.append(np.arange(n_circles))  # the last pool: every circle
    cumulative = [np.cumsum(popularity[p]) for p in pools]
    keys = np.empty(0, dtype=np.int64)
    while len(keys) < n_members:
        want = int((n_members - len(keys)) * 1.3) + 100
        per_user = rng.multinomial(want, activity / activity.sum())
        user = np.repeat(np.arange(n_users), per_user)
        pool = np.where(rng.random(len(user)) < 0.8, user_cluster[user], clusters)
        circle = np.empty(len(user), dtype=np.int64)
        for k in range(clusters + 1):
            at = np.flatnonzero(pool == k)
            drawn = np.searchsorted(cumulative[k], rng.random(len(at)) * cumulative[k][-1])
            circle[at] = pools[k][np.minimum(drawn, len(pools[k]) - 1)]
        keys = np.union1d(keys, user.astype(np.int64) * n_circles + circle)
    keys = np.sort(rng.choice(keys, n_members, replace=False))
    m_user, m_circle = keys // n_circles, keys % n_circles
    start = np.maximum(registered[m_user], created[m_circle])
    joined = start + (END - start) * rng.uniform(0.0, 1.0, n_members)

    # friends: 4 edges per user on average, 80% within the cluster
    n_edges = 4 * n_users
    by_cluster = np.argsort(user_cluster, kind="stable")
    bounds = np.searchsorted(user_cluster[by_cluster], np.arange(clusters + 1))
    a = rng.integers(n_users, size=n_edges)
    of_a = user_cluster[a]
    size = bounds[of_a + 1] - bounds[of_a]
    same = by_cluster[bounds[of_a] + (rng.random(n_edges) * size).astype(np.int64)]
    b = np.where(rng.random(n_edges) < 0.8, same, rng.integers(n_users, size=n_edges))
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pairs = np.unique(lo[lo != hi].astype(np.int64) * n_users + hi[lo != hi])
    lo, hi = pairs // n_users, pairs % n_users
    since = np.maximum(registered[lo], registered[hi])
    befriended = since + (END - since) * rng.uniform(0.0, 1.0, len(pairs))

    def ids(prefix: str, values: np.ndarray) -> np.ndarray:
        return np.char.add(prefix, np.char.zfill(values.astype(str), 6)).astype(object)

    def ts(values: Any) -> pd.Series:
        return pd.Series(pd.DatetimeIndex(values).as_unit("us"))

    cities = np.array([f"city{i:02d}" for i in range(40)], dtype=object)
    city_weight = 1.0 / np.arange(1, 41)
    tables = {
        "users": pd.DataFrame(
            {
                "user_id": ids("u", np.arange(n_users)),
                "registered_at": ts(registered),
                "city": cities[rng.choice(40, n_users, p=city_weight / city_weight.sum())],
            }
        ),
        "circles": pd.DataFrame(
            {
                "circle_id": ids("c", np.arange(n_circles)),
                "name": ids("circle ", np.arange(n_circles)),
                "topic": ids("topic", circle_cluster),
                "created_at": ts(created),
                "creator_id": pd.Series([None] * n_circles, dtype=object),
                "min_credit_score": pd.array([pd.NA] * n_circles, dtype="Int64"),
                "is_official": False,
            }
        ),
        "memberships": pd.DataFrame(
            {
                "user_id": ids("u", m_user),
                "circle_id": ids("c", m_circle),
                "joined_at": ts(joined),
                "left_at": pd.Series(pd.NaT, index=range(n_members), dtype="datetime64[us, UTC]"),
            }
        ),
        "social_edges": pd.DataFrame(
            {
                "user_id": ids("u", lo),
                "other_id": ids("u", hi),
                "created_at": ts(befriended),
                "kind": "friend",
            }
        ),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(out / f"{name}.parquet", index=False)
    return {name: len(frame) for name, frame in tables.items()}


def train(data: Path, models: Path) -> dict[str, Any]:
    """`circlerank train` in a fresh process: wall time, peak RSS, slowest stages, and
    its summary; or the error (the tail of its stderr) when it fails."""
    command = [sys.executable, "-m", "circlerank.cli.main", "train"]
    command += ["--data", str(data), "--out", str(models)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    stages = []
    for line in done.stderr.splitlines():
        found = STAGE.match(line.strip())
        if found:
            stages.append((found["what"], float(found["s"])))
    out: dict[str, Any] = {
        "seconds": round(wall, 1),
        "peak_rss_mb": round(peak),
        "slowest_stages": sorted(stages, key=lambda s: -s[1])[:12],
    }
    if done.returncode != 0:
        out["error"] = done.stderr[-4000:]
        return out
    summary = json.loads(done.stdout)
    out["selection"] = summary.get("selection", {}).get(SURFACE, {}).get("chosen")
    out["rows"] = summary.get("rows", {}).get(SURFACE)
    return out


def measure(data_dir: Path, models: Path, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """In this (fresh) process: load as `circlerank rank` does, then offline throughput
    and single requests. Returns the figures."""
    from circlerank.memory import freeze_heap, keep_freed_memory, peak_rss_mb
    from features.contract import load_contract
    from ranking.cursor import CursorSigner
    from ranking.forked import default_workers
    from ranking.pages import Pager
    from ranking.replay import Replayer
    from ranking.strategy import load_strategies
    from training.bundle import load_bundle, read_manifest, resolve

    keep_freed_memory()
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = round(now - clock, 2)
        clock = now

    at = pd.Timestamp(read_manifest(resolve(models))["seen_until"])
    data = load_contract(data_dir, quarantine_dir=tmp / "q")
    lap("load data")
    bundle = load_bundle(models)
    lap("load bundle")
    strategies = load_strategies()
    replayer = Replayer(data, bundle, at, feature_dir=tmp / "snapshot", strategies=strategies)
    lap("feature snapshot")
    catalog = replayer.catalog
    users = data["users"]["user_id"].to_numpy(dtype=object)
    rng = np.random.default_rng(0)
    ranked = rng.choice(users, min(args.rank_users, len(users)), replace=False)
    rates: dict[int, list[float]] = {}
    for run in range(args.runs):
        for workers in sorted({1, default_workers()}):
            replayer.workers = workers
            started = time.perf_counter()
            replayer.rank(SURFACE, ranked, 10)
            rates.setdefault(workers, []).append(len(ranked) / (time.perf_counter() - started))
        lap(f"rank run {run + 1}" + (" (fills the catalog's caches)" if run == 0 else ""))

    ctx = replayer.context(SURFACE)
    pager = Pager(lambda surface, as_of: ctx, strategies, CursorSigner("benchmark-secret-0123"))
    strategy = strategies.get(None, SURFACE)
    freeze_heap()  # as the API does once a bundle is loaded
    asked = rng.choice(users, args.requests + 50)
    times, cpu, stages, sizes = [], [], [], []
    for i, user in enumerate(asked):
        started, used = time.perf_counter(), time.process_time()
        page = pager.page(str(user), SURFACE, limit=20, now=at)
        elapsed = time.perf_counter() - started
        if i >= 50:  # warm-up
            times.append(elapsed * 1000)
            cpu.append((time.process_time() - used) * 1000)
            stages.append(page.result.seconds)
            sizes.append(sum(page.result.candidates.values()))
    lap("single requests")
    ms = np.array(times)
    per_stage = pd.DataFrame(stages).fillna(0.0) * 1000
    replayer.close()
    return {
        "as_of": at.isoformat(),
        "circles_at_as_of": len(catalog.circles),
        "active_memberships": len(catalog.memberships.table),
        "strategy": {"name": strategy.name, "sources": list(strategy.sources)},
        "rank": {
            "users": len(ranked),
            "users_per_s": {w: [round(r, 1) for r in v] for w, v in rates.items()},
            "median_users_per_s": {w: round(float(np.median(v)), 1) for w, v in rates.items()},
        },
        "request": {
            "requests": len(ms),
            "candidates_median": float(np.median(sizes)),
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2),
            "max_ms": round(float(ms.max()), 2),
            # CPU time of the process (its native threads' too): less swayed by other
            # processes on the machine than wall time
            "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2),
            "cpu_p99_ms": round(float(np.percentile(cpu, 99)), 2),
            "stages_p50_p99_ms": {
                stage: [
                    round(float(np.percentile(v, 50)), 2),
                    round(float(np.percentile(v, 99)), 2),
                ]
                for stage, v in per_stage.items()
            },
        },
        "seconds": seconds,
        "peak_rss_mb": round(peak_rss_mb()),
    }


def machine() -> dict[str, Any]:
    def git(*command: str) -> str:
        done = subprocess.run(["git", *command], capture_output=True, text=True, cwd=ROOT)
        return done.stdout.strip()

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def measure_main() -> None:
    """The fresh process of `measure`: --measure DATA MODELS SCRATCH OPTIONS_JSON."""
    data, models, scratch = (Path(p) for p in sys.argv[2:5])
    logging.basicConfig(level=logging.WARNING)
    figures = measure(data, models, scratch, argparse.Namespace(**json.loads(sys.argv[5])))
    print(json.dumps(figures))


def main() -> None:
    if sys.argv[1:2] == ["--measure"]:
        measure_main()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="of 50k users, 100k circles, 2M")
    parser.add_argument("--clusters", type=int, default=20, help="interest clusters of users")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rank-users", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3, help="offline rank runs (median)")
    parser.add_argument("--requests", type=int, default=500, help="single-user requests timed")
    parser.add_argument("--data", help="reuse (or keep) the generated tables in this directory")
    parser.add_argument(
        "--models", help="a models directory: trained into when empty, reused (no training) if not"
    )
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()

    figures: dict[str, Any] = {"scale": args.scale, "machine": machine()}
    with tempfile.TemporaryDirectory(prefix="large-catalog-") as tmp:
        data = Path(args.data) if args.data else Path(tmp) / "data"
        started = time.perf_counter()
        if not (data / "memberships.parquet").exists():
            figures["rows"] = generate(data, args.scale, args.clusters, args.seed)
        else:
            figures["rows"] = {
                p.stem: pq.ParquetFile(p).metadata.num_rows for p in sorted(data.glob("*.parquet"))
            }
        figures["generate_seconds"] = round(time.perf_counter() - started, 1)
        print(f"tables: {figures['rows']} ({figures['generate_seconds']} s)", flush=True)

        models = Path(args.models) if args.models else Path(tmp) / "models"
        if not (models / "current").exists():
            figures["train"] = trained = train(data, models)
            print(
                f"train: {trained['seconds']} s, peak RSS {trained['peak_rss_mb']:,} MB; slowest: "
                + ", ".join(f"{what} {s:.1f} s" for what, s in trained["slowest_stages"][:8]),
                flush=True,
            )
            if "error" in trained:
                print(f"train failed:\n{trained['error']}")
                _write(args.json, figures)
                raise SystemExit(1)
        options = {"rank_users": args.rank_users, "runs": args.runs, "requests": args.requests}
        child = [sys.executable, __file__, "--measure", str(data), str(models), tmp]
        started = time.perf_counter()
        done = subprocess.run([*child, json.dumps(options)], capture_output=True, text=True)
        if done.returncode != 0:
            figures["measure_error"] = done.stderr[-4000:]
            _write(args.json, figures)
            raise SystemExit(f"measuring failed:\n{done.stderr[-4000:]}")
        figures["measure"] = got = json.loads(done.stdout.splitlines()[-1])
        figures["measure_seconds"] = round(time.perf_counter() - started, 1)

    m, request = figures["machine"], got["request"]
    print(
        f"machine: {m['cores']} cores, {m['memory_gb']} GB, python {m['python']}, commit "
        f"{m['commit']}{' + uncommitted changes' if m['uncommitted_changes'] else ''}, "
        f"load average {m['load_average']}"
    )
    print(
        f"catalog at {got['as_of']}: {got['circles_at_as_of']:,} circles, "
        f"{got['active_memberships']:,} memberships; strategy {got['strategy']['name']} "
        f"({', '.join(got['strategy']['sources'])})"
    )
    print(
        f"one request (Pager.page, {request['requests']:,} users, "
        f"{request['candidates_median']:,.0f} candidates each): p50 {request['p50_ms']:.2f} ms, "
        f"p99 {request['p99_ms']:.2f} ms, max {request['max_ms']:.2f} ms (target p99 <= 30 ms); "
        f"CPU time p50 {request['cpu_p50_ms']:.2f} ms, p99 {request['cpu_p99_ms']:.2f} ms"
    )
    print(
        "per stage, ms p50/p99: "
        + ", ".join(f"{s} {a:.2f}/{b:.2f}" for s, (a, b) in request["stages_p50_p99_ms"].items())
    )
    for workers, runs in got["rank"]["users_per_s"].items():
        print(
            f"offline rank, {workers} worker(s): {np.median(runs):,.0f} users/s, median of "
            f"{len(runs)} runs ({', '.join(f'{r:,.0f}' for r in runs)}) over "
            f"{got['rank']['users']:,} users"
        )
    print(
        f"ranking process: peak RSS {got['peak_rss_mb']:,} MB; stages "
        + ", ".join(f"{s} {v} s" for s, v in got["seconds"].items())
    )
    _write(args.json, figures)


def _write(path: str | None, figures: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
