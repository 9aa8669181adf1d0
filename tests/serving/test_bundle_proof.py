"""A bundle is proven before a serving process parses it: every artifact matches the
digest its manifest recorded at save, a separate probe process loads it and scores with
it, and a process that starts while MODELS/current is refused serves the last good
bundle."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from circlerank.errors import ModelError
from serving.models import LAST_GOOD, prove_in_child, read_last_good
from training.bundle import (
    ARTIFACTS,
    artifact_files,
    load_bundle,
    model_directories,
    read_manifest,
    read_manifest_and_digest,
    write_manifest,
)
from training.bundle import point_current as point

from .bundles import copy_bundle, crashing_bundle, damage
from .conftest import ADMIN, AUTH, ServedWorld


def _version(client) -> str:
    return client.get("/readyz").json()["model_version"]


def test_the_manifest_records_the_digest_of_every_artifact(served_world: ServedWorld) -> None:
    bundle = (served_world.models / "current").resolve()
    manifest = read_manifest(bundle)
    files = artifact_files(bundle, model_directories(manifest))
    assert "feed/heads/click.txt" in files and "feed/als/items.faiss" in files
    assert sorted(manifest[ARTIFACTS]) == sorted(files)
    for relative, entry in manifest[ARTIFACTS].items():
        raw = (bundle / relative).read_bytes()
        assert entry == {"sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}


def _truncate_click(bundle: Path) -> None:
    damage(bundle / "feed" / "heads" / "click.txt", "truncated")  # LightGBM would crash


def _empty_faiss(bundle: Path) -> None:
    damage(bundle / "feed" / "als" / "items.faiss", "emptied")


def _remove_logistic(bundle: Path) -> None:
    (bundle / "feed" / "logistic" / "logistic.json").unlink()


def _add_a_file(bundle: Path) -> None:
    (bundle / "feed" / "heads" / "extra.txt").write_text("tree\n")


def _drop_digests(bundle: Path) -> None:
    manifest = read_manifest(bundle)
    del manifest[ARTIFACTS]
    write_manifest(bundle, manifest)


def _escape_the_bundle(bundle: Path) -> None:
    manifest = read_manifest(bundle)
    manifest[ARTIFACTS]["../../etc/passwd"] = {"sha256": "0" * 64, "bytes": 1}
    write_manifest(bundle, manifest)


def _rankers_as_text(bundle: Path) -> None:
    manifest = read_manifest(bundle)
    manifest["rankers"] = "heads"
    write_manifest(bundle, manifest)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_rankers_as_text, r"invalid bundle manifest \(rankers: Input should be a valid dict"),
        (_truncate_click, r"feed/heads/click\.txt has \d+ bytes, the manifest recorded \d+"),
        (_empty_faiss, r"feed/als/items\.faiss has 0 bytes"),
        (_remove_logistic, r"feed/logistic/logistic\.json is missing"),
        (_add_a_file, r"feed/heads/extra\.txt is not among the manifest's 'artifacts'"),
        (_drop_digests, r"the manifest has no 'artifacts' digests, which format 2 bundles"),
        (_escape_the_bundle, r"'artifacts' entry '\.\./\.\./etc/passwd' is invalid"),
    ],
)
def test_loading_checks_every_artifact_before_parsing_any(
    fresh_models: Path, change: Callable[[Path], None], message: str
) -> None:
    bundle = copy_bundle(fresh_models, "20990101T000000-damaged")
    change(bundle)
    with pytest.raises(ModelError, match=message):
        load_bundle(bundle, compile_trees=False)


def test_a_changed_byte_of_the_same_size_is_caught(fresh_models: Path) -> None:
    bundle = copy_bundle(fresh_models, "20990101T000000-flipped")
    path = bundle / "feed" / "logistic" / "logistic.json"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match=r"logistic\.json does not match its sha256"):
        load_bundle(bundle, compile_trees=False)


def test_the_probe_process_proves_a_good_bundle_and_dies_on_a_crashing_one(
    fresh_models: Path,
) -> None:
    good = (fresh_models / "current").resolve()
    assert prove_in_child(good, compile_trees=False) == read_manifest_and_digest(good)[1]
    crashing = crashing_bundle(fresh_models, "20990101T000000-crash")
    with pytest.raises(ModelError, match=r"probe process was killed by SIG\w+ \(a native crash"):
        prove_in_child(crashing, compile_trees=False)


def test_a_bundle_that_crashes_its_parser_is_refused_and_the_old_one_serves(
    api, fresh_models: Path
) -> None:
    """Its digests match (they were recomputed after the damage), so only the probe
    process stands between LightGBM's parser and this process."""
    with api(models=fresh_models) as client:
        before = _version(client)
        point(fresh_models, crashing_bundle(fresh_models, "20990101T000000-crash").name)
        refused = client.post("/admin/reload", headers=ADMIN)
        ready = client.get("/readyz")
        feed = client.get("/v1/feed", params={"user_id": "u00001"}, headers=AUTH)
    assert refused.status_code == 409
    assert ready.status_code == 200 and ready.json()["model_version"] == before
    assert "crash" in ready.json()["reload_refused"]["bundle"]
    assert "probe process was killed" in ready.json()["reload_refused"]["reason"]
    assert feed.status_code == 200 and feed.json()["model_version"] == before


def test_a_restart_while_current_is_refused_serves_the_last_good_bundle(
    api, fresh_models: Path
) -> None:
    with api(models=fresh_models) as client:
        before = _version(client)
    record = read_last_good(fresh_models)
    assert record is not None and record.bundle == before
    point(fresh_models, crashing_bundle(fresh_models, "20990101T000000-crash").name)
    with api(models=fresh_models) as client:
        ready = client.get("/readyz")
        feed = client.get("/v1/feed", params={"user_id": "u00001"}, headers=AUTH)
        refused = client.app.state.runtime.holder.refused
    assert ready.status_code == 200, ready.json()
    assert ready.json()["model_version"] == before
    assert ready.json()["bundle"].endswith(before)
    assert ready.json()["reload_refused"]["bundle"].endswith("20990101T000000-crash")
    assert "probe process was killed" in ready.json()["reload_refused"]["reason"]
    assert refused is not None and refused.target.endswith("20990101T000000-crash")
    assert feed.status_code == 200 and feed.json()["model_version"] == before


def test_a_restart_while_current_has_no_manifest_serves_the_last_good_bundle(
    api, fresh_models: Path
) -> None:
    with api(models=fresh_models) as client:
        before = _version(client)
    bad = copy_bundle(fresh_models, "20990101T000000-no-manifest")
    damage(bad / "manifest.json", "garbled")
    point(fresh_models, bad.name)
    with api(models=fresh_models) as client:
        ready = client.get("/readyz").json()
    assert ready["ready"] and ready["model_version"] == before
    assert "unreadable bundle manifest" in ready["reload_refused"]["reason"]


def test_the_last_good_record_never_skips_the_digest_check(api, fresh_models: Path) -> None:
    """A bundle proven before is not probed again, but its files are still checked:
    damage to the last good bundle itself is refused, and nothing else can serve."""
    with api(models=fresh_models) as client:
        before = _version(client)
    _truncate_click(fresh_models / before)
    with api(models=fresh_models) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "feed/heads/click.txt has" in ready.json()["reload_refused"]["reason"]


def test_a_swap_records_the_last_good_bundle(api, fresh_models: Path) -> None:
    with api(models=fresh_models) as client:
        good = copy_bundle(fresh_models, "20990101T000000-good")
        point(fresh_models, good.name)
        assert client.post("/admin/reload", headers=ADMIN).status_code == 200
        point(fresh_models, crashing_bundle(fresh_models, "20990101T000000-crash").name)
        assert client.post("/admin/reload", headers=ADMIN).status_code == 409
    record = json.loads((fresh_models / LAST_GOOD).read_text())
    assert record["bundle"] == good.name  # a refused bundle never becomes the last good
    assert record["manifest_sha256"] == read_manifest_and_digest(good)[1]
