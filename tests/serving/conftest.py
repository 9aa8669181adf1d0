"""A small trained world and clients of the API over it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from circlerank.cli.main import main
from evaluation.simulator import SimConfig, simulate
from serving.app import create_app
from serving.settings import load_settings

TOKEN = "test-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADMIN_TOKEN = "admin-token-0123"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass(frozen=True)
class ServedWorld:
    data: Path
    models: Path  # read-only: copy it (fresh_models) before repointing `current`
    snapshot: Path
    users: list[str]


@pytest.fixture(scope="session")
def served_world(tmp_path_factory: pytest.TempPathFactory) -> ServedWorld:
    """Big enough that both surfaces train (about 5 s)."""
    root = tmp_path_factory.mktemp("served")
    world = simulate(SimConfig(users=500, days=21, seed=11), out_dir=root / "world")
    models = root / "models"
    until = world.split_time.isoformat()
    code = main(
        ["-q", "train", "--data", str(world.out_dir), "--out", str(models), "--until", until]
    )
    assert code == 0
    users = pd.read_parquet(world.out_dir / "users.parquet")["user_id"].tolist()
    return ServedWorld(world.out_dir, models, root / "snapshot", users)


@pytest.fixture
def fresh_models(served_world: ServedWorld, tmp_path: Path) -> Path:
    """A private copy of the models directory (its `current` link still relative)."""
    target = tmp_path / "models"
    shutil.copytree(served_world.models, target, symlinks=True)
    return target


@pytest.fixture
def api(served_world: ServedWorld, tmp_path: Path) -> Callable[..., object]:
    """`with api(**settings) as client:` a started app over the served world, with a
    fresh SQLite event log; keyword arguments override settings."""

    @contextmanager
    def start(**overrides: object) -> Iterator[TestClient]:
        settings = {
            "data": served_world.data,
            "models": served_world.models,
            "snapshot": served_world.snapshot,
            "api_tokens": TOKEN,
            "admin_tokens": ADMIN_TOKEN,
            "event_log": f"sqlite:///{tmp_path / 'events.db'}",
            "reload_poll_s": 0,
            "compile_trees": False,
            **overrides,
        }
        with TestClient(create_app(load_settings(**settings))) as client:
            yield client

    return start
