"""Shared fixtures: small simulated worlds, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evaluation.simulator import SimConfig, SimResult, simulate


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> SimResult:
    """A 300-user, 14-day world; read-only for tests (copy before changing it)."""
    out = tmp_path_factory.mktemp("worlds") / "small"
    return simulate(SimConfig(users=300, days=14, seed=11), out_dir=out)


def read_world(directory: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted(directory.glob("*.parquet"))}
