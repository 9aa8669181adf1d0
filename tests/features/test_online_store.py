"""The online store: exact round trips, memory mapping, atomic rebuilds, errors, collisions."""

from __future__ import annotations

import json
import multiprocessing
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import features.store.build as build_module
import features.store.keys as keys_module
from circlerank.errors import FeatureStoreError, OutputError
from features.store import HashedIds, OnlineStore, OnlineStoreReader, build_online_store

AS_OF = pd.Timestamp("2026-06-01T00:00:00Z")
KEYS = {"users": ["user_id"], "pairs": ["user_id", "circle_id"]}
# ids that differ only in ways a careless store would lose: leading zeros, case, spaces,
# an embedded NUL, non-ASCII, and the texts that None and NaN hash like
SPECIAL_IDS = ["007", "7", "07", "", " 7", "U7", "ü-ser", "7\x00x", "None", "nan", "x" * 40]
UNKNOWN_IDS = ["0007", "70", "u-unknown", "ü", "7\x00", "NULL"]


def users_table(rng: np.random.Generator, rows: int = 200) -> pd.DataFrame:
    ids = SPECIAL_IDS + [f"u{v}" for v in rng.choice(10**6, rows - len(SPECIAL_IDS), False)]
    missing = rng.random(rows) < 0.2
    counts = pd.array(rng.integers(-5, 99, rows), dtype="Int64")
    counts[missing] = pd.NA
    maybe = pd.array(rng.random(rows) < 0.5, dtype="boolean")
    maybe[missing[::-1]] = pd.NA
    return pd.DataFrame(
        {
            "score": np.where(missing, np.nan, rng.standard_normal(rows)),
            "user_id": pd.Series(ids, dtype="str"),  # not first: features keep frame order
            "count": counts,
            "flag": rng.random(rows) < 0.5,
            "maybe": maybe,
            "small": rng.integers(-100, 100, rows).astype(np.int32),
            "ratio": rng.random(rows).astype(np.float32),
        }
    )


def pairs_table(rng: np.random.Generator, rows: int = 150) -> pd.DataFrame:
    # ("a", "b") and ("b", "a") are different pairs; so are ("7", "c1") and ("07", "c1")
    fixed = [("a", "b"), ("b", "a"), ("7", "c1"), ("07", "c1"), ("7", "c01")]
    codes = rng.choice(50 * 40, rows - len(fixed), replace=False)
    pairs = fixed + [(f"u{c // 40}", f"c{c % 40}") for c in codes]
    return pd.DataFrame(
        {
            "user_id": [p[0] for p in pairs],
            "circle_id": [p[1] for p in pairs],
            "affinity": np.where(rng.random(rows) < 0.1, np.nan, rng.random(rows)),
            "seen": rng.integers(0, 10, rows),
        }
    )


def make_tables(seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    return {"users": users_table(rng), "pairs": pairs_table(rng)}


def expected(frame: pd.DataFrame, key_columns: list[str], asked: list[tuple]) -> np.ndarray:
    """The oracle: rows of `frame` by key, one Python value at a time, NaN when unknown."""
    features = [c for c in frame.columns if c not in key_columns]
    values = {c: [np.nan if pd.isna(v) else float(v) for v in frame[c].tolist()] for c in features}
    where = {
        key: i for i, key in enumerate(zip(*(frame[c].tolist() for c in key_columns), strict=True))
    }
    out = np.full((len(asked), len(features)), np.nan)
    for row, key in enumerate(asked):
        if key in where:
            out[row] = [values[c][where[key]] for c in features]
    return out


def build(directory: Path, tables: dict[str, pd.DataFrame], **kwargs: object) -> None:
    options: dict[str, object] = {"as_of": AS_OF, **kwargs}
    build_online_store(directory, tables, {n: KEYS[n] for n in tables}, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pd.DataFrame]]:
    tables = make_tables()
    directory = tmp_path_factory.mktemp("online") / "store"
    build(directory, tables, meta={"run": "r1", "views": ["a", "b"]})
    return directory, tables


def user_request(frame: pd.DataFrame, rng: np.random.Generator) -> list[str]:
    known = frame["user_id"].tolist()
    asked = list(rng.choice(known, 60)) + known[:5] + known[:5] + UNKNOWN_IDS
    rng.shuffle(asked)
    return [str(i) for i in asked]


@pytest.mark.parametrize("verify_ids", [False, True])
def test_entity_round_trip_is_exact_in_request_order(
    built: tuple[Path, dict[str, pd.DataFrame]], verify_ids: bool
) -> None:
    directory, tables = built
    users = tables["users"]
    asked = user_request(users, np.random.default_rng(1))
    assert not set(UNKNOWN_IDS) & set(users["user_id"])
    with OnlineStore.open(directory, verify_ids=verify_ids) as store:
        got = store.lookup("users", asked)
        found = store.found("users", asked)
        whole = store.lookup("users", users["user_id"])
    want = expected(users, ["user_id"], [(i,) for i in asked])
    assert got.dtype == np.float64 and got.shape == (len(asked), 6)
    np.testing.assert_array_equal(got, want)  # NaN where the source was null
    np.testing.assert_array_equal(found, [i not in UNKNOWN_IDS for i in asked])
    np.testing.assert_array_equal(
        whole, expected(users, ["user_id"], [(i,) for i in users.user_id])
    )


@pytest.mark.parametrize("verify_ids", [False, True])
def test_pair_round_trip_is_exact(
    built: tuple[Path, dict[str, pd.DataFrame]], verify_ids: bool
) -> None:
    directory, tables = built
    pairs = tables["pairs"]
    known = list(zip(pairs.user_id, pairs.circle_id, strict=True))
    unknown = [("a", "a"), ("c1", "7"), ("007", "c1"), ("u1", "nope")]
    asked = known[::3] + known[:4] + unknown
    with OnlineStore.open(directory, verify_ids=verify_ids) as store:
        got = store.lookup("pairs", ([a for a, _ in asked], [b for _, b in asked]))
        found = store.found("pairs", (np.array([a for a, _ in asked]), [b for _, b in asked]))
    np.testing.assert_array_equal(got, expected(pairs, KEYS["pairs"], asked))
    np.testing.assert_array_equal(found, [p not in unknown for p in asked])


def test_store_describes_itself(built: tuple[Path, dict[str, pd.DataFrame]]) -> None:
    directory, _ = built
    with OnlineStore.open(directory) as store:
        assert isinstance(store, OnlineStoreReader)
        assert store.tables == ("pairs", "users")
        assert store.columns("users") == ("score", "count", "flag", "maybe", "small", "ratio")
        assert store.key_columns("pairs") == ("user_id", "circle_id")
        assert store.as_of == AS_OF and str(store.as_of.tz) == "UTC"
        assert store.rows("users") == 200
        assert store.meta == {"run": "r1", "views": ["a", "b"]}
    manifest = json.loads((directory / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    assert manifest["tables"]["pairs"]["rows"] == 150


def test_frame_is_lookup_with_names(built: tuple[Path, dict[str, pd.DataFrame]]) -> None:
    directory, _ = built
    with OnlineStore.open(directory) as store:
        frame = store.frame("users", ["007", "nobody", "7"])
        pairs = store.frame("pairs", (["a", "b"], ["b", "a"]))
        np.testing.assert_array_equal(
            frame.to_numpy(), store.lookup("users", ["007", "nobody", "7"])
        )
    assert list(frame.columns) == ["score", "count", "flag", "maybe", "small", "ratio"]
    assert list(frame.index) == ["007", "nobody", "7"] and frame.index.name == "user_id"
    assert frame.loc["nobody"].isna().all()
    assert list(pairs.index.names) == ["user_id", "circle_id"]


def test_any_sequence_of_ids_works_and_non_strings_are_unknown(
    built: tuple[Path, dict[str, pd.DataFrame]],
) -> None:
    directory, _ = built
    ids = ["007", "7", "u-unknown"]
    with OnlineStore.open(directory) as store:
        want = store.lookup("users", ids)
        for form in (tuple(ids), np.array(ids), np.array(ids, dtype=object), pd.Series(ids)):
            np.testing.assert_array_equal(store.lookup("users", form), want)
        np.testing.assert_array_equal(store.lookup("users", pd.Index(ids)), want)
        assert store.lookup("users", []).shape == (0, 6)
        assert store.found("pairs", ([], [])).shape == (0,)
        # None hashes like "None" and NaN like "nan", both stored ids; 7 like "7"
        odd = [None, np.nan, pd.NA, 7, b"7", "None"]
        for verify in (False, True):
            with OnlineStore.open(directory, verify_ids=verify) as other:
                assert other.found("users", odd).tolist() == [False] * 5 + [True]
        series = pd.Series(["7", None], dtype="string")  # holds pd.NA
        assert store.found("users", series).tolist() == [True, False]
        # beside a non-str id, a trailing NUL still tells "7\0" (unknown) from "7"
        assert store.found("users", ["7\x00", 7, "7"]).tolist() == [False, False, True]


def test_arrays_are_memory_mapped_read_only_and_results_are_copies(
    built: tuple[Path, dict[str, pd.DataFrame]],
) -> None:
    directory, _ = built
    with OnlineStore.open(directory) as store:
        matrix = store.matrix("users")
        assert isinstance(matrix, np.memmap)
        assert not matrix.flags.owndata and not matrix.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            matrix[0, 0] = 1.0
        got = store.lookup("users", ["007"])
        assert type(got) is np.ndarray and got.flags.owndata and got.flags.writeable
        got[:] = -1.0
        assert not (store.lookup("users", ["007"]) == -1.0).any()


def read_in_child(directory: str) -> np.ndarray:
    """Runs in a spawned process: open the store there and read a fixed request."""
    with OnlineStore.open(directory) as store:
        users = store.lookup("users", SPECIAL_IDS + UNKNOWN_IDS)
        pairs = store.lookup("pairs", (["a", "b", "7"], ["b", "a", "c01"]))
    return np.concatenate([users.ravel(), pairs.ravel()])


def test_two_processes_read_identical_values(built: tuple[Path, dict[str, pd.DataFrame]]) -> None:
    directory, _ = built
    here = read_in_child(str(directory))
    assert here.shape == (len(SPECIAL_IDS + UNKNOWN_IDS) * 6 + 3 * 2,)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        there = pool.map(read_in_child, [str(directory)] * 2)
    for values in there:
        np.testing.assert_array_equal(values, here)


def test_rebuild_swaps_in_the_new_store_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "online"
    old_tables, new_tables = make_tables(0), make_tables(1)
    build(directory, old_tables)
    asked = old_tables["users"]["user_id"].tolist()
    old_values = expected(old_tables["users"], ["user_id"], [(i,) for i in asked])
    mapped_before = OnlineStore.open(directory)
    seen: dict[str, object] = {}
    swap = build_module.exchange_paths

    def watched(first: Path, second: Path) -> bool:
        # the last moment before the swap: the new store is complete, the old one served
        seen["staged"] = sorted(p.name for p in first.iterdir())
        with OnlineStore.open(second) as store:
            seen["served"] = store.lookup("users", asked)
        seen["swapped"] = swap(first, second)
        return bool(seen["swapped"])

    monkeypatch.setattr(build_module, "exchange_paths", watched)
    build(directory, new_tables)
    assert seen["staged"] == ["manifest.json", "pairs", "users"]
    np.testing.assert_array_equal(seen["served"], old_values)
    assert seen["swapped"] or not sys.platform.startswith("linux")
    with OnlineStore.open(directory) as store:
        new_ids = new_tables["users"]["user_id"].tolist()
        want = expected(new_tables["users"], ["user_id"], [(i,) for i in new_ids])
        np.testing.assert_array_equal(store.lookup("users", new_ids), want)
    # a reader that mapped the old store keeps reading it; no temporary directory is left
    np.testing.assert_array_equal(mapped_before.lookup("users", asked), old_values)
    assert [p.name for p in tmp_path.iterdir()] == ["online"]


def test_rebuild_without_an_atomic_exchange_still_replaces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "online"
    build(directory, make_tables(0))
    monkeypatch.setattr(build_module, "exchange_paths", lambda first, second: False)
    tables = make_tables(2)
    build(directory, tables)
    with OnlineStore.open(directory) as store:
        np.testing.assert_array_equal(
            store.lookup("users", ["7"]), expected(tables["users"], ["user_id"], [("7",)])
        )
    assert [p.name for p in tmp_path.iterdir()] == ["online"]


def test_readers_opening_during_rebuilds_always_see_one_whole_store(tmp_path: Path) -> None:
    directory = tmp_path / "online"
    versions = [make_tables(seed) for seed in range(2)]
    wanted = [expected(v["users"], ["user_id"], [(i,) for i in SPECIAL_IDS]) for v in versions]
    build(directory, versions[0], meta={"version": 0})
    problems: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                with OnlineStore.open(directory) as store:
                    version = int(store.meta["version"])
                    got = store.lookup("users", SPECIAL_IDS)
            except Exception as exc:  # a reader must never fail while stores are rebuilt
                problems.append(f"open failed: {exc}")
                return
            if not np.array_equal(got, wanted[version], True):
                problems.append(f"values of another build than version {version}")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for round_ in range(1, 7):
            build(directory, versions[round_ % 2], meta={"version": round_ % 2})
    finally:
        done.set()
        reader.join()
    assert problems == []


def test_a_failed_build_leaves_the_old_store_in_place(tmp_path: Path) -> None:
    directory = tmp_path / "online"
    tables = make_tables(0)
    build(directory, tables)
    bad = tables["users"].copy()
    bad.loc[5, "user_id"] = bad.loc[9, "user_id"]
    with pytest.raises(FeatureStoreError, match="duplicate"):
        build(directory, {"users": bad, "pairs": tables["pairs"]})
    with OnlineStore.open(directory) as store:
        assert store.found("users", [tables["users"].loc[5, "user_id"]]).all()
    assert [p.name for p in tmp_path.iterdir()] == ["online"]


def test_refuses_to_replace_a_directory_that_is_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(FeatureStoreError, match="refusing to replace"):
        build(tmp_path, make_tables())
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_empty_tables_and_tables_without_features(tmp_path: Path) -> None:
    empty = pd.DataFrame({"user_id": pd.Series([], dtype="str"), "x": pd.Series([], dtype=float)})
    only_keys = pd.DataFrame({"user_id": ["a"], "circle_id": ["b"]})
    build(tmp_path / "s", {"users": empty, "pairs": only_keys})
    with OnlineStore.open(tmp_path / "s") as store:
        assert np.isnan(store.lookup("users", ["a", "b"])).all()
        assert store.found("users", ["a"]).tolist() == [False]
        assert store.lookup("pairs", (["a", "b"], ["b", "a"])).shape == (2, 0)
        assert store.found("pairs", (["a", "b"], ["b", "a"])).tolist() == [True, False]


@pytest.mark.parametrize(
    "fake_hash",
    [
        lambda ids: np.zeros(len(ids), dtype=np.uint64),
        lambda ids: pd.util.hash_array(ids, categorize=False) % np.uint64(3),
    ],
    ids=["constant", "three-values"],
)
@pytest.mark.parametrize("verify_ids", [False, True])
def test_hash_collisions_are_detected_and_lookups_stay_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_hash: object, verify_ids: bool
) -> None:
    monkeypatch.setattr(keys_module, "hash_ids", fake_hash)
    tables = make_tables()
    build(tmp_path / "s", tables)
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["tables"]["users"]["hash_collisions"] > 100
    asked: list[str | None] = [*user_request(tables["users"], np.random.default_rng(3)), None]
    known = zip(tables["pairs"].user_id, tables["pairs"].circle_id, strict=True)
    pairs = [*list(known)[:20], ("b", "b")]
    with OnlineStore.open(tmp_path / "s", verify_ids=verify_ids) as store:
        got = store.lookup("users", asked)
        found = store.found("users", asked)
        got_pairs = store.lookup("pairs", ([a for a, _ in pairs], [b for _, b in pairs]))
    np.testing.assert_array_equal(
        got, expected(tables["users"], ["user_id"], [(i,) for i in asked])
    )
    np.testing.assert_array_equal(found, [i not in UNKNOWN_IDS and i is not None for i in asked])
    np.testing.assert_array_equal(got_pairs, expected(tables["pairs"], KEYS["pairs"], pairs))


@pytest.mark.parametrize("collide", [False, True])
@pytest.mark.parametrize("verify_ids", [False, True])
def test_ids_with_kept_hashes_find_exactly_what_plain_ids_find(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collide: bool, verify_ids: bool
) -> None:
    if collide:
        monkeypatch.setattr(keys_module, "hash_ids", lambda ids: np.zeros(len(ids), np.uint64))
    tables = make_tables()
    build(tmp_path / "s", tables)
    odd = [None, np.nan, 7, "None", "nan"]  # non-str ids hash like stored texts
    users = np.array([*user_request(tables["users"], np.random.default_rng(4)), *odd], object)
    kept = HashedIds.of(users)
    assert kept.strings.tolist() == [isinstance(u, str) for u in users]
    order = np.random.default_rng(5).permutation(len(kept))
    pairs = tables["pairs"]
    user = HashedIds.of(np.array(["a"], dtype=object))  # stored with "b" only
    circles = HashedIds.of(np.array([*pairs.circle_id, "nope", None], dtype=object))
    with OnlineStore.open(tmp_path / "s", verify_ids=verify_ids) as store:
        for ids in (kept, kept.take(order), kept.concat(kept)):
            values, found = store.lookup_found("users", ids)
            want = expected(tables["users"], ["user_id"], [(i,) for i in ids.ids])
            np.testing.assert_array_equal(values, want)
            assert found.tolist() == [i in set(tables["users"].user_id) for i in ids.ids]
        # pairs: one side kept once and repeated, the other kept and taken
        asked = (user.repeat(len(circles)), circles.take(np.arange(len(circles))[::-1]))
        values, found = store.lookup_found("pairs", asked)
        keys = list(zip(asked[0].ids, asked[1].ids, strict=True))
        np.testing.assert_array_equal(values, expected(pairs, KEYS["pairs"], keys))
        assert found.tolist() == [k == ("a", "b") for k in keys] and found.any()
        # one column kept and one plain: the store hashes both itself, same answer
        mixed = store.lookup_found("pairs", (asked[0], asked[1].ids))
        np.testing.assert_array_equal(mixed[1], found)


def test_duplicates_are_found_even_when_all_hashes_collide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keys_module, "hash_ids", lambda ids: np.zeros(len(ids), np.uint64))
    frame = pd.DataFrame({"user_id": ["a", "b", "c", "a"], "x": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(FeatureStoreError, match=r"1 duplicate keys in \(user_id\), e.g. 'a'"):
        build(tmp_path / "s", {"users": frame})


@settings(max_examples=30, deadline=None)
@given(
    ids=st.lists(
        st.text(max_size=5).filter(lambda s: not s.endswith("\x00")),
        min_size=1,
        max_size=30,
        unique=True,
    ),
    data=st.data(),
)
def test_any_text_ids_round_trip(ids: list[str], data: st.DataObject) -> None:
    values = np.arange(len(ids), dtype=np.float64)
    asked = data.draw(st.lists(st.sampled_from(ids) | st.text(max_size=5), max_size=20))
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp) / "s", {"users": pd.DataFrame({"user_id": ids, "v": values})})
        with OnlineStore.open(Path(tmp) / "s") as store:
            got = store.lookup("users", asked)[:, 0]
    position = {key: i for i, key in enumerate(ids)}
    want = [values[position[a]] if a in position else np.nan for a in asked]
    np.testing.assert_array_equal(got, np.array(want, dtype=np.float64))


# --- errors -------------------------------------------------------------------------


def one_table(frame: pd.DataFrame, keys: list[str] | None = None) -> tuple[dict, dict]:
    return {"users": frame}, {"users": keys or ["user_id"]}


@pytest.mark.parametrize(
    ("frame", "keys", "message"),
    [
        (
            pd.DataFrame({"user_id": ["a", "b", "a"], "x": [1, 2, 3]}),
            None,
            r"table 'users': 1 duplicate keys in \(user_id\), e.g. 'a'",
        ),
        (
            pd.DataFrame({"u": ["a", "a"], "c": ["b", "b"], "x": [1, 2]}),
            ["u", "c"],
            r"duplicate keys in \(u, c\), e.g. \('a', 'b'\)",
        ),
        (
            pd.DataFrame({"uid": ["a"], "x": [1.0]}),
            None,
            r"key column 'user_id' is missing \(columns present: uid, x\)",
        ),
        (
            pd.DataFrame({"user_id": ["a"], "x": [1.0], "name": ["Ann"]}),
            None,
            r"feature column 'name' has dtype str, which is not numeric",
        ),
        (
            pd.DataFrame({"user_id": ["a"], "when": [AS_OF]}),
            None,
            r"feature column 'when' has dtype datetime64\[.*UTC\], which is not numeric",
        ),
        (
            pd.DataFrame({"user_id": ["a", None], "x": [1.0, 2.0]}),
            None,
            r"key column 'user_id' has 1 null ids",
        ),
        (
            pd.DataFrame({"user_id": [7, 8], "x": [1.0, 2.0]}),
            None,
            r"key column 'user_id' must hold strings, it has dtype int64",
        ),
        (
            pd.DataFrame({"user_id": ["a\x00"], "x": [1.0]}),
            None,
            r"1 ids ending in a NUL character",
        ),
    ],
    ids=["duplicate", "duplicate-pair", "no-key", "text", "datetime", "null-key", "int-key", "nul"],
)
def test_bad_tables_are_refused_with_a_clear_message(
    tmp_path: Path, frame: pd.DataFrame, keys: list[str] | None, message: str
) -> None:
    tables, key_map = one_table(frame, keys)
    with pytest.raises(FeatureStoreError, match=message):
        build_online_store(tmp_path / "s", tables, key_map, as_of=AS_OF)
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user_id": ["a"], "x": [1.0]})
    with pytest.raises(FeatureStoreError, match="no key columns given"):
        build_online_store(tmp_path / "s", {"users": frame}, {}, as_of=AS_OF)
    with pytest.raises(FeatureStoreError, match="'circles', which is not in tables"):
        build_online_store(
            tmp_path / "s", {"users": frame}, {"users": ["user_id"], "circles": ["c"]}, as_of=AS_OF
        )
    with pytest.raises(FeatureStoreError, match="not usable as a directory name"):
        build_online_store(tmp_path / "s", {"../up": frame}, {"../up": ["user_id"]}, as_of=AS_OF)
    with pytest.raises(FeatureStoreError, match="meta must be JSON-serialisable"):
        build(tmp_path / "s", {"users": frame}, meta={"when": object()})
    with pytest.raises(FeatureStoreError, match="as_of is missing"):
        build(tmp_path / "s", {"users": frame}, as_of=pd.NaT)


def test_bad_requests_are_refused(built: tuple[Path, dict[str, pd.DataFrame]]) -> None:
    directory, _ = built
    with OnlineStore.open(directory) as store:
        with pytest.raises(FeatureStoreError, match=r"no table 'circles'; tables: pairs, users"):
            store.lookup("circles", ["c1"])
        with pytest.raises(FeatureStoreError, match="single value '007'"):
            store.lookup("users", "007")
        with pytest.raises(FeatureStoreError, match="pass a tuple of 2"):
            store.lookup("pairs", [("a", "b")])
        with pytest.raises(FeatureStoreError, match="different lengths"):
            store.lookup("pairs", (["a", "b"], ["b"]))
        with pytest.raises(FeatureStoreError, match="one-dimensional"):
            store.found("users", [["a", "b"]])


def break_manifest(directory: Path, **changes: object) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "manifest.json").unlink(), r"manifest.json is missing"),
        (lambda d: (d / "manifest.json").write_text("{not json"), r"manifest.json is corrupt"),
        (lambda d: break_manifest(d, format_version=99), r"format version 99, this reader"),
        (lambda d: break_manifest(d, format="parquet"), r"not an online store manifest"),
        (lambda d: break_manifest(d, key_hash="1"), r"keys were hashed differently"),
        (lambda d: break_manifest(d, tables=[]), r"manifest.json is corrupt"),
        (lambda d: (d / "users" / "values.npy").unlink(), r"users/values.npy is missing"),
        (
            lambda d: (d / "users" / "values.npy").write_bytes(
                (d / "users" / "values.npy").read_bytes()[:1000]
            ),
            r"users/values.npy is corrupt",
        ),
        (lambda d: (d / "pairs" / "key_1.npy").write_bytes(b"junk"), r"key_1.npy is corrupt"),
    ],
    ids=[
        "no-manifest",
        "bad-json",
        "version",
        "format",
        "hash",
        "tables",
        "no-values",
        "short",
        "junk",
    ],
)
def test_damaged_stores_are_refused_naming_the_file(
    tmp_path: Path, damage: object, message: str
) -> None:
    build(tmp_path / "s", make_tables())
    damage(tmp_path / "s")  # type: ignore[operator]
    with pytest.raises(FeatureStoreError, match=message):
        OnlineStore.open(tmp_path / "s")


def test_missing_store_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FeatureStoreError, match=r"no online store at .*does not exist"):
        OnlineStore.open(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(FeatureStoreError, match="not a directory"):
        OnlineStore.open(tmp_path / "file")


def test_unwritable_location_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot write the online store"):
        build(tmp_path / "file" / "store", make_tables())
