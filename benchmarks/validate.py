"""Validation throughput: read + coerce + check 1,000,000 payments, Parquet and CSV.

Prints the median of several runs of `load_contract` over a data directory whose bulk
is the payments table (10,000 users, 2,000 merchants), and rows/s for the payments.
Target: >= 500,000 rows/s from Parquet on 2 cores.

    .venv/bin/python benchmarks/validate.py [--rows 1000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import load_contract

START = pd.Timestamp("2026-03-01T00:00:00Z")


def make_tables(rows: int, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    users = pd.DataFrame(
        {
            "user_id": [f"u{i:06d}" for i in range(10_000)],
            "registered_at": START - pd.Timedelta(days=30),
        }
    )
    merchants = pd.DataFrame(
        {
            "merchant_id": [f"m{i:05d}" for i in range(2_000)],
            "category": rng.choice(["pet_store", "grocery", "airline", "campus_canteen"], 2_000),
        }
    )
    circles = pd.DataFrame(
        {"circle_id": ["c1"], "name": ["Pets"], "topic": ["pets"], "created_at": [START]}
    )
    memberships = pd.DataFrame(
        {"user_id": users["user_id"][:100], "circle_id": "c1", "joined_at": START}
    )
    payments = pd.DataFrame(
        {
            "payment_id": [f"pay{i:08d}" for i in range(rows)],
            "user_id": users["user_id"].to_numpy()[rng.integers(0, len(users), rows)],
            "merchant_id": merchants["merchant_id"].to_numpy()[rng.integers(0, 2_000, rows)],
            "amount": np.round(rng.lognormal(3, 1, rows), 2),
            "ts": START + pd.to_timedelta(rng.integers(0, 60 * 86_400, rows), unit="s"),
            "currency": "CNY",
            "country": "CN",
            "channel": rng.choice(["qr", "app", "card"], rows),
        }
    )
    return {
        "users": users,
        "merchants": merchants,
        "circles": circles,
        "memberships": memberships,
        "payments": payments,
    }


def write(tables: dict[str, pd.DataFrame], directory: Path, fmt: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(directory / f"{name}.csv", index=False)
        else:
            frame.to_parquet(directory / f"{name}.parquet", index=False)


def time_load(directory: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        data = load_contract(directory, as_of=START + pd.Timedelta(days=61))
        times.append(time.perf_counter() - started)
        assert data.report.tables["payments"].quarantined == 0
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    tables = make_tables(args.rows)
    print(f"validating {args.rows:,} payments (+10,000 users, 2,000 merchants); {args.runs} runs")
    print(f"{'format':<9}{'median s':>10}{'min s':>8}{'max s':>8}{'rows/s':>14}")
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("parquet", "csv"):
            directory = Path(tmp) / fmt
            write(tables, directory, fmt)
            times = time_load(directory, args.runs)
            median = statistics.median(times)
            print(
                f"{fmt:<9}{median:>10.2f}{min(times):>8.2f}{max(times):>8.2f}"
                f"{args.rows / median:>14,.0f}"
            )
    print("target: >= 500,000 rows/s from Parquet")


if __name__ == "__main__":
    main()
