"""Copies of a trained bundle, damaged on purpose, for the reload and proof tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from training.bundle import (
    ARTIFACTS,
    artifact_digests,
    model_directories,
    read_manifest,
    write_manifest,
)
from training.ease import EASEParams
from training.item_models import ITEM_MODELS, fit_item_models

DAMAGES = ("truncated", "emptied", "garbled")


def copy_bundle(models: Path, name: str, source: Path | None = None) -> Path:
    """A copy of `source` (default: the current bundle) under a new version name."""
    source = source or (models / "current").resolve()
    target = models / name
    shutil.copytree(source, target)
    manifest = read_manifest(target)
    manifest["version"] = name
    write_manifest(target, manifest)
    return target


def damage(path: Path, how: str) -> None:
    """Cut the file to a third, empty it, or overwrite 64 bytes in its middle with 0xFF
    (never valid UTF-8, so a garbled JSON file stays garbled)."""
    raw = path.read_bytes()
    if how == "truncated":
        raw = raw[: len(raw) // 3]
    elif how == "emptied":
        raw = b""
    elif how == "garbled":
        middle = len(raw) // 2
        raw = raw[:middle] + b"\xff" * 64 + raw[middle + 64 :]
    else:
        raise ValueError(f"unknown damage {how!r}")
    path.write_bytes(raw)


def redigest(bundle: Path) -> None:
    """Record the digests of the files as they are now, as a tool that rewrote the
    manifest after the damage would: only the probe process can catch what is left."""
    manifest = read_manifest(bundle)
    manifest[ARTIFACTS] = artifact_digests(bundle, model_directories(manifest))
    write_manifest(bundle, manifest)


def crashing_bundle(models: Path, name: str, source: Path | None = None) -> Path:
    """A copy whose feed click head is cut to a third with digests to match: LightGBM's
    parser kills the process that reads it (the crash of issue 31)."""
    bundle = copy_bundle(models, name, source)
    damage(bundle / "feed" / "heads" / "click.txt", "truncated")
    redigest(bundle)
    return bundle


def add_item_models(bundle: Path, data: Path, surface: str = "circle_suggestions") -> None:
    """Fit the item-to-item models (item-kNN, EASE) on the world's memberships and add
    them to the bundle, so that it holds every kind of artifact."""
    members = pd.read_parquet(data / "memberships.parquet")
    pairs = members.rename(columns={"circle_id": "item_id"})[["user_id", "item_id"]]
    models = fit_item_models(pairs.drop_duplicates(), EASEParams(l2=5.0), "test")
    manifest = read_manifest(bundle)
    for name, model in models.items():
        model.save(bundle / surface / name)
        manifest[name] = [surface]
    assert set(models) == set(ITEM_MODELS)
    write_manifest(bundle, manifest)
    redigest(bundle)
