"""The online store contract, on the memory-mapped files and on Redis: the same rows
for the same keys, unknown keys as NaN, the same description of each table."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import redis

from circlerank.errors import ConfigError, FeatureStoreError, StoreUnavailableError
from features.store import (
    HashedIds,
    OnlineStore,
    OnlineStoreReader,
    RedisOnlineStore,
    load_into_redis,
    open_online_store,
)
from tests.features.test_online_store import (
    AS_OF,
    KEYS,
    UNKNOWN_IDS,
    build,
    expected,
    make_tables,
)
from tests.servers import LocalRedis, free_port

Built = tuple[Path, dict[str, pd.DataFrame]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    tables = make_tables(seed=3)
    directory = tmp_path_factory.mktemp("online") / "store"
    build(directory, tables)
    return directory, tables


@pytest.fixture(params=["file", "redis"])
def store(request: pytest.FixtureRequest, built: Built) -> Iterator[OnlineStoreReader]:
    directory, _ = built
    if request.param == "file":
        opened = open_online_store(f"file://{directory}")
    else:
        server: LocalRedis = request.getfixturevalue("redis_server")
        prefix = f"t{secrets.token_hex(4)}"
        load_into_redis(OnlineStore.open(directory), server.url, prefix=prefix)
        opened = RedisOnlineStore.open(server.url, prefix=prefix)
    yield opened
    opened.close()


def test_tables_are_described_alike(store: OnlineStoreReader, built: Built) -> None:
    _, tables = built
    assert store.tables == ("pairs", "users")
    assert store.as_of == AS_OF
    for name, frame in tables.items():
        assert store.key_columns(name) == tuple(KEYS[name])
        assert store.columns(name) == tuple(c for c in frame.columns if c not in KEYS[name])


def test_entity_lookups_are_exact_in_request_order(store: OnlineStoreReader, built: Built) -> None:
    _, tables = built
    users = tables["users"]
    rng = np.random.default_rng(0)
    known = users["user_id"].tolist()
    asked = list(rng.choice(known, 80)) + known[:3] + known[:3] + UNKNOWN_IDS
    values, found = store.lookup_found("users", asked)
    np.testing.assert_array_equal(values, expected(users, ["user_id"], [(a,) for a in asked]))
    np.testing.assert_array_equal(found, [a not in UNKNOWN_IDS for a in asked])
    np.testing.assert_array_equal(store.lookup("users", asked), values)
    np.testing.assert_array_equal(store.found("users", asked), found)


def test_pair_lookups_are_exact(store: OnlineStoreReader, built: Built) -> None:
    _, tables = built
    pairs = tables["pairs"]
    keys = list(zip(pairs["user_id"], pairs["circle_id"], strict=True))
    asked = [*keys[::3], (keys[0][0], "c-unknown"), ("u-unknown", keys[0][1])]
    users, circles = [a for a, _ in asked], [b for _, b in asked]
    values = store.lookup("pairs", (users, circles))
    np.testing.assert_array_equal(values, expected(pairs, KEYS["pairs"], asked))


def test_ids_with_kept_hashes_are_looked_up_alike(store: OnlineStoreReader, built: Built) -> None:
    """Serving hands the store HashedIds: every backend answers them as the plain ids."""
    _, tables = built
    pairs = tables["pairs"]
    keys = list(zip(pairs["user_id"], pairs["circle_id"], strict=True))
    asked = [*keys[::5], (keys[0][0], "c-unknown"), ("u-unknown", keys[0][1])]
    users = np.array([a for a, _ in asked], dtype=object)
    circles = np.array([b for _, b in asked], dtype=object)
    got = store.lookup_found("pairs", (HashedIds.of(users), HashedIds.of(circles)))
    np.testing.assert_array_equal(got[0], expected(pairs, KEYS["pairs"], asked))
    assert got[1].tolist() == [*([True] * (len(asked) - 2)), False, False]
    ids = np.array([*tables["users"]["user_id"][:5], "u-unknown", None], dtype=object)
    plain, kept = store.lookup_found("users", ids), store.lookup_found("users", HashedIds.of(ids))
    for want, have in zip(plain, kept, strict=True):
        np.testing.assert_array_equal(have, want)
    assert plain[1].tolist() == [True] * 5 + [False, False]


def test_non_text_ids_and_empty_requests_are_unknown(store: OnlineStoreReader) -> None:
    values, found = store.lookup_found("users", [None, 7, float("nan")])
    assert np.isnan(values).all() and not found.any()
    assert store.lookup("users", []).shape == (0, len(store.columns("users")))


def test_bad_requests_are_refused_alike(store: OnlineStoreReader) -> None:
    with pytest.raises(FeatureStoreError, match="no table 'nope'"):
        store.lookup("nope", ["u1"])
    with pytest.raises(FeatureStoreError, match="keyed by 2 columns"):
        store.lookup("pairs", ["u1"])


def test_a_new_snapshot_replaces_the_old_one_and_old_ones_are_dropped(
    redis_server: LocalRedis, built: Built, tmp_path: Path
) -> None:
    directory, tables = built
    prefix = f"t{secrets.token_hex(4)}"
    changed = {k: v.copy() for k, v in tables.items()}
    changed["users"]["score"] = 42.0
    build(tmp_path / "second", changed)
    first = load_into_redis(OnlineStore.open(directory), redis_server.url, prefix=prefix)
    reader = RedisOnlineStore.open(redis_server.url, prefix=prefix)
    user = tables["users"]["user_id"].iloc[0]
    load_into_redis(OnlineStore.open(tmp_path / "second"), redis_server.url, prefix=prefix)
    # a reader opened before keeps its whole snapshot (the one before is kept)
    np.testing.assert_array_equal(
        reader.lookup("users", [user]), expected(tables["users"], ["user_id"], [(user,)])
    )
    fresh = RedisOnlineStore.open(redis_server.url, prefix=prefix)
    assert fresh.lookup("users", [user])[0, list(fresh.columns("users")).index("score")] == 42.0
    load_into_redis(OnlineStore.open(tmp_path / "second"), redis_server.url, prefix=prefix)
    client = redis.Redis.from_url(redis_server.url)
    assert not list(client.scan_iter(match=f"{first}:*"))  # two snapshots later: gone
    client.close()


def test_an_empty_redis_and_a_dead_redis_are_told_apart(redis_server: LocalRedis) -> None:
    with pytest.raises(FeatureStoreError, match="no snapshot loaded") as empty:
        RedisOnlineStore.open(redis_server.url, prefix=f"t{secrets.token_hex(4)}")
    assert not isinstance(empty.value, StoreUnavailableError)
    with pytest.raises(StoreUnavailableError, match="unavailable"):
        RedisOnlineStore.open(f"redis://127.0.0.1:{free_port()}/0")


def test_unknown_schemes_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="valid: file:///path, redis://"):
        open_online_store("s3://bucket/store")
