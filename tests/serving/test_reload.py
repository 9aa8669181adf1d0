"""Hot reload: a good bundle swaps in atomically, a corrupt or mismatched one is refused
while the old one keeps serving, and the feed answers throughout."""

from __future__ import annotations

import gc
import json
import shutil
import threading
from pathlib import Path

from tests.servers import wait_for
from training.bundle import point_current

from .conftest import ADMIN, AUTH, ServedWorld


def _copy_bundle(models: Path, name: str) -> Path:
    """A copy of the current bundle under a new version name."""
    source = (models / "current").resolve()
    target = models / name
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["version"] = name
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def _corrupt(models: Path) -> str:
    target = _copy_bundle(models, "20990101T000000-corrupt")
    head = target / "feed" / "heads" / "click.txt"
    head.write_text(head.read_text()[:300])  # a truncated LightGBM model
    return target.name


def _mismatched(models: Path) -> str:
    target = _copy_bundle(models, "20990101T000000-mismatch")
    manifest = json.loads((target / "manifest.json").read_text())
    columns = manifest["feature_schema"]["columns"]
    entity = next(iter(columns))
    columns[entity] = columns[entity][:-1]  # learned without one feature
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target.name


def _version(client) -> str:
    return client.get("/readyz").json()["model_version"]


def test_admin_reload_swaps_to_a_good_bundle(api, fresh_models: Path) -> None:
    with api(models=fresh_models) as client:
        before = _version(client)
        same = client.post("/admin/reload", headers=ADMIN)
        assert same.status_code == 200 and same.json()["model_version"] == before
        point_current(fresh_models, _copy_bundle(fresh_models, "20990101T000000-good").name)
        swapped = client.post("/admin/reload", headers=ADMIN)
        feed = client.get("/v1/feed", params={"user_id": "u00001"}, headers=AUTH)
    assert swapped.status_code == 200
    assert swapped.json()["model_version"] == "20990101T000000-good" != before
    assert feed.json()["model_version"] == "20990101T000000-good"


def test_admin_reload_needs_the_admin_token(api) -> None:
    with api() as client:
        assert client.post("/admin/reload", headers=AUTH).status_code == 401
        assert client.post("/admin/reload").status_code == 401
    with api(admin_tokens="") as client:
        assert client.post("/admin/reload", headers=ADMIN).status_code == 403


def test_a_corrupt_bundle_is_refused_and_the_old_one_serves(api, fresh_models: Path) -> None:
    with api(models=fresh_models) as client:
        before = _version(client)
        point_current(fresh_models, _corrupt(fresh_models))
        refused = client.post("/admin/reload", headers=ADMIN)
        ready = client.get("/readyz")
        feed = client.get("/v1/feed", params={"user_id": "u00001"}, headers=AUTH)
    assert refused.status_code == 409
    assert "refused bundle" in refused.json()["detail"] and before in refused.json()["detail"]
    assert ready.status_code == 200  # still serving the old bundle
    assert ready.json()["model_version"] == before
    assert "corrupt" in ready.json()["reload_refused"]["bundle"]
    assert "cannot load" in ready.json()["reload_refused"]["reason"]
    assert "feed/heads/click.txt" in ready.json()["reload_refused"]["reason"]  # named
    assert feed.status_code == 200 and feed.json()["model_version"] == before


def test_a_schema_mismatched_bundle_is_refused(api, fresh_models: Path) -> None:
    with api(models=fresh_models) as client:
        before = _version(client)
        point_current(fresh_models, _mismatched(fresh_models))
        refused = client.post("/admin/reload", headers=ADMIN)
        ready = client.get("/readyz").json()
    assert refused.status_code == 409
    assert "feature schema" in ready["reload_refused"]["reason"]
    assert ready["model_version"] == before


def test_the_watcher_follows_current_and_refuses_a_corrupt_bundle(api, fresh_models: Path) -> None:
    with api(models=fresh_models, reload_poll_s=0.1) as client:
        point_current(fresh_models, _copy_bundle(fresh_models, "20990101T000000-watched").name)
        assert wait_for(lambda: _version(client) == "20990101T000000-watched", 30.0, 0.05)
        point_current(fresh_models, _corrupt(fresh_models))
        assert wait_for(
            lambda: client.get("/readyz").json()["reload_refused"] is not None, 30.0, 0.05
        )
        assert _version(client) == "20990101T000000-watched"


def test_the_feed_keeps_answering_during_swaps(
    api, fresh_models: Path, served_world: ServedWorld
) -> None:
    first = (fresh_models / "current").resolve().name
    second = _copy_bundle(fresh_models, "20990101T000000-second").name
    statuses: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()
    with api(models=fresh_models) as client:

        def hammer() -> None:
            i = 0
            while not stop.is_set():
                user = served_world.users[i % 50]
                got = client.get("/v1/feed", params={"user_id": user, "limit": 5}, headers=AUTH)
                statuses.append(got.status_code)
                if got.status_code == 200:
                    versions.add(got.json()["model_version"])
                i += 1

        threads = [threading.Thread(target=hammer) for _ in range(2)]
        for t in threads:
            t.start()
        for swap in range(6):
            point_current(fresh_models, (second, first)[swap % 2])
            assert client.post("/admin/reload", headers=ADMIN).status_code == 200
        stop.set()
        for t in threads:
            t.join()
    assert statuses and set(statuses) == {200}
    assert versions == {first, second}


def test_a_swapped_in_bundle_is_out_of_the_garbage_collectors_scans(
    api, fresh_models: Path
) -> None:
    """After a swap the long-lived heap (bundle, world, catalogs) is frozen, so full
    collections no longer walk it; a replaced bundle's cycles are still collectable."""
    with api(models=fresh_models) as client:
        gc.unfreeze()
        point_current(fresh_models, _copy_bundle(fresh_models, "20990101T000000-frozen").name)
        assert client.post("/admin/reload", headers=ADMIN).status_code == 200
        served = client.app.state.runtime.holder.current
        assert gc.get_freeze_count() > 10_000
        assert not any(o is served for g in range(3) for o in gc.get_objects(generation=g))


def test_a_bundle_is_prepared_for_every_strategy_before_it_serves(
    api, fresh_models: Path, tmp_path: Path, monkeypatch
) -> None:
    from ranking.strategy import SHIPPED
    from training.heads import HeadsRanker

    made: list[tuple[str, int]] = []
    first_trees = HeadsRanker.first_trees

    def recorded(self: HeadsRanker, label: str, trees: int):
        made.append((label, trees))
        return first_trees(self, label, trees)

    monkeypatch.setattr(HeadsRanker, "first_trees", recorded)
    strategies = tmp_path / "strategies.toml"
    strategies.write_text(
        SHIPPED.read_text()
        + '\n[strategies.first_trees]\nsurface = "feed"\nsources = ["circle_posts"]\n'
        + 'scorer = "value"\nparams = { value = { prefilter_trees = 2 } }\n'
    )
    with api(models=fresh_models, strategies=strategies) as client:
        at_start = list(made)
        assert ("click", 2) in at_start  # before any request
        point_current(fresh_models, _copy_bundle(fresh_models, "20990101T000000-good").name)
        assert client.post("/admin/reload", headers=ADMIN).status_code == 200
        assert made == at_start * 2  # and again for the bundle swapped in
        feed = client.get(
            "/v1/feed", params={"user_id": "u00001", "strategy": "first_trees"}, headers=AUTH
        )
    assert feed.status_code == 200 and feed.json()["strategy"] == "first_trees"
