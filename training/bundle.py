"""Model bundles: everything `rank` and the API need, versioned on disk.

    MODELS/<version>/manifest.json     version, data range, feature schema, params,
                                       validation metrics, library versions, and the
                                       sha256 and size of every artifact file
    MODELS/<version>/<surface>/heads/  LightGBM text models, one per action
    MODELS/<version>/<surface>/lambdarank/, logistic/, als/, knn/, ease/
    MODELS/current -> <version>        switched atomically (symlink + rename)
    MODELS/last-good.json              the bundle a server last swapped in (serving/models.py)

Loading checks the manifest, then every artifact against its digest before any parser
reads a byte of it (a native parser handed a truncated file can kill the process), and
refuses a bundle whose feature schema differs from the features it would be served with.
`probe_main` is the entry of a short-lived process that loads a bundle and scores a few
rows with every model, so that a server can prove a bundle before it parses it itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import ValidationError

from circlerank.errors import BundleMismatchError, CircleRankError, ModelError, TrainedAfterError
from features.schema import FeatureSchema

from .als import ALSModel
from .config import TrainConfig
from .ease import EASE
from .heads import HeadsRanker
from .item_models import ITEM_MODELS
from .item_to_item import ItemToItem
from .knn import ItemKNN
from .lambdarank import LambdaRanker
from .logistic import LogisticRanker
from .manifest import BundleManifest
from .ranker import Ranker

MANIFEST = "manifest.json"
CURRENT = "current"
FORMAT = 2  # 2: the logistic regression keeps its training range; artifact digests
ARTIFACTS = "artifacts"  # manifest key: relative path -> {"sha256": hex, "bytes": size}
PROBE_MARK = "circlerank-probe-result "  # the line of a probe process's stdout to read
PROBE_ROWS = 8
LIBRARIES = ("lightgbm", "implicit", "faiss-cpu", "scikit-learn", "pandas", "numpy")


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


@dataclass
class Bundle:
    """Trained models per surface plus the manifest that describes them."""

    manifest: dict[str, Any]
    rankers: dict[str, dict[str, Ranker]] = field(default_factory=dict)  # surface -> name
    als: dict[str, ALSModel] = field(default_factory=dict)  # surface -> model
    knn: dict[str, ItemKNN] = field(default_factory=dict)  # surface -> model
    ease: dict[str, EASE] = field(default_factory=dict)  # surface -> model
    directory: Path | None = None
    manifest_sha256: str | None = None  # of the manifest file loaded (None: not from disk)

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def schema(self) -> FeatureSchema:
        return FeatureSchema.from_dict(self.manifest["feature_schema"])

    def ranker(self, surface: str, name: str) -> Ranker:
        try:
            return self.rankers[surface][name]
        except KeyError:
            have = ", ".join(sorted(self.rankers.get(surface, {}))) or "none"
            raise ModelError(
                f"bundle {self.version} has no '{name}' ranker for {surface}; it has: {have}"
            ) from None

    def candidate_models(self, surface: str) -> dict[str, Any]:
        """The surface's candidate models by signal name (training/signals.py); None
        where the bundle has none."""
        models = {name: getattr(self, name).get(surface) for name in ITEM_MODELS}
        return {"als": self.als.get(surface), **models}

    def add_item_models(self, surface: str, models: dict[str, ItemToItem[Any]]) -> None:
        """Keep the surface's item-to-item models (names of ITEM_MODELS)."""
        for name, model in models.items():
            getattr(self, name)[surface] = model

    def check_schema(self, schema: FeatureSchema, what: str) -> None:
        """Refuse features whose schema differs from the one the models learned on."""
        mine, theirs = self.schema.fingerprint(), schema.fingerprint()
        if mine != theirs:
            ours, other = self.schema.to_dict(), schema.to_dict()
            differ = sorted(k for k in ours if ours[k] != other.get(k))
            raise BundleMismatchError(
                f"model bundle {self.version} was trained on feature schema {mine}, but "
                f"{what} has schema {theirs} (different: {', '.join(differ)}); retrain "
                "or use features built with the bundle's config and data vocabulary"
            )

    def save(self, models_dir: Path) -> Path:
        """Write MODELS/<version>/ (the manifest last, with the digest of every artifact)
        and point MODELS/current at it."""
        out = models_dir / self.version
        for surface, rankers in self.rankers.items():
            for name, ranker in rankers.items():
                ranker.save(out / surface / name)
        for surface, model in self.als.items():
            model.save(out / surface / "als")
        for name in ITEM_MODELS:
            for surface, item_model in getattr(self, name).items():
                item_model.save(out / surface / name)
        self.manifest[ARTIFACTS] = artifact_digests(out, model_directories(self.manifest))
        self.manifest_sha256 = write_manifest(out, self.manifest)
        point_current(models_dir, self.version)
        self.directory = out
        return out


def model_directories(manifest: dict[str, Any]) -> list[str]:
    """`<surface>/<model>` for every model the manifest lists (rankers, ALS, item models)."""
    rankers = manifest.get("rankers", {})
    listed = [manifest.get(kind, []) for kind in ("als", *ITEM_MODELS)]
    if not isinstance(rankers, dict) or not all(
        isinstance(names, list) for names in [*rankers.values(), *listed]
    ):
        raise ModelError("the bundle manifest's model lists are invalid (edited or corrupt)")
    out = [f"{surface}/{name}" for surface, names in rankers.items() for name in names]
    for kind, surfaces in zip(("als", *ITEM_MODELS), listed, strict=True):
        out += [f"{surface}/{kind}" for surface in surfaces]
    return out


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def artifact_files(directory: Path, models: list[str]) -> list[str]:
    """Every file under the bundle's model directories, by path relative to the bundle
    (POSIX separators)."""
    return [
        path.relative_to(directory).as_posix()
        for model in models
        for path in sorted((directory / model).rglob("*"))
        if path.is_file()
    ]


def artifact_digests(directory: Path, models: list[str]) -> dict[str, dict[str, Any]]:
    """sha256 and size of every artifact file (`artifact_files`)."""
    return {
        relative: {
            "sha256": file_sha256(directory / relative),
            "bytes": (directory / relative).stat().st_size,
        }
        for relative in artifact_files(directory, models)
    }


def write_manifest(directory: Path, manifest: dict[str, Any]) -> str:
    """Write the manifest atomically (a reader sees the old file or the new one); its
    sha256."""
    text = (json.dumps(manifest, indent=2, default=str) + "\n").encode()
    temporary = directory / f".{MANIFEST}.{os.getpid()}"
    temporary.write_bytes(text)
    os.replace(temporary, directory / MANIFEST)
    return hashlib.sha256(text).hexdigest()


def point_current(models_dir: Path, version: str) -> None:
    link = models_dir / CURRENT
    temporary = models_dir / f".{CURRENT}.{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(version)
    os.replace(temporary, link)  # atomic: readers see the old or the new bundle


def resolve(models: str | Path) -> Path:
    """A bundle directory from MODELS (follows `current`) or MODELS/<version>."""
    path = Path(models)
    if (path / MANIFEST).is_file():
        return path
    if (path / CURRENT).exists():
        return (path / CURRENT).resolve()
    raise ModelError(f"{path}: no model bundle here (no {MANIFEST} and no '{CURRENT}' link)")


def read_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of the bundle in `directory`, checked for a format this engine reads."""
    return read_manifest_and_digest(directory)[0]


def read_manifest_and_digest(directory: Path) -> tuple[dict[str, Any], str]:
    """The manifest of the bundle in `directory` and the sha256 of its file."""
    try:
        raw = (directory / MANIFEST).read_bytes()
        manifest: dict[str, Any] = json.loads(raw)
    except (OSError, ValueError, RecursionError) as exc:  # deep nesting: RecursionError
        raise ModelError(f"{directory / MANIFEST}: unreadable bundle manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ModelError(f"{directory}: bundle format {found!r}, this engine reads {FORMAT}")
    try:
        BundleManifest.model_validate(manifest)
    except ValidationError as exc:
        wrong = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        raise ModelError(f"{directory / MANIFEST}: invalid bundle manifest ({wrong})") from None
    return manifest, hashlib.sha256(raw).hexdigest()


def verify_artifacts(directory: Path, manifest: dict[str, Any]) -> None:
    """Check every artifact against the manifest's digests, reading bytes only: ModelError
    naming the first file missing, unlisted, resized or changed."""
    listed = _listed_artifacts(directory, manifest)
    for relative, (sha256, size) in listed.items():
        path = directory / relative
        if not path.is_file():
            raise ModelError(f"{directory}: cannot load the bundle: {relative} is missing")
        if path.stat().st_size != size:
            raise ModelError(
                f"{directory}: cannot load the bundle: {relative} has {path.stat().st_size} "
                f"bytes, the manifest recorded {size} (truncated or replaced)"
            )
        if file_sha256(path) != sha256:
            raise ModelError(
                f"{directory}: cannot load the bundle: {relative} does not match its sha256 "
                "in the manifest (corrupt or replaced)"
            )
    try:
        models = model_directories(manifest)
    except ModelError as exc:
        raise ModelError(f"{directory}: {exc}") from None
    # a loader reads what it finds in a model directory: nothing there may go unchecked
    for relative in artifact_files(directory, models):
        if relative not in listed:
            raise ModelError(
                f"{directory}: cannot load the bundle: {relative} is not among the "
                f"manifest's '{ARTIFACTS}' (added after the bundle was saved)"
            )


def _listed_artifacts(directory: Path, manifest: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """The manifest's artifacts as path -> (sha256, bytes), each entry checked."""
    listed = manifest.get(ARTIFACTS)
    if not isinstance(listed, dict):
        raise ModelError(
            f"{directory}: the manifest has no '{ARTIFACTS}' digests, which format {FORMAT} "
            "bundles record at save; it was written by an older engine or edited: retrain it"
        )
    out = {}
    for relative, entry in listed.items():
        parts = Path(relative).parts
        sha256 = entry.get("sha256") if isinstance(entry, dict) else None
        size = entry.get("bytes") if isinstance(entry, dict) else None
        safe = not Path(relative).is_absolute() and ".." not in parts and len(parts) > 1
        if not (safe and isinstance(sha256, str) and len(sha256) == 64 and isinstance(size, int)):
            raise ModelError(
                f"{directory}: the manifest's '{ARTIFACTS}' entry {relative!r} is invalid "
                f"(want a path inside the bundle with a sha256 and a size, got {entry!r})"
            )
        out[relative] = (sha256, size)
    return out


def refuse_trained_after(manifest: dict[str, Any], at: pd.Timestamp, flag: str) -> None:
    """Refuse a bundle that read rows at or after `at`, the instant given by `flag`:
    ranking or judging as of `at` with it would use what happened after `at`. A cut-off
    past the last row it read is no leak (`train --until` the day after the data ends)."""
    until = manifest.get("seen_until", manifest.get("until"))  # older bundles: the cut-off
    if until is not None and pd.Timestamp(until) > at:
        raise TrainedAfterError(
            f"the bundle {manifest.get('version')} learned from data up to {until}, after "
            f"{flag} {at.isoformat()}: it has seen the held-out period; train with --until "
            f"{at.isoformat()} or earlier"
        )


def load_bundle(
    models: str | Path,
    schema: FeatureSchema | None = None,
    compile_trees: bool = True,
    manifest_sha256: str | None = None,
) -> Bundle:
    """Load a bundle; with `schema`, refuse it unless the feature schemas match.
    `compile_trees`: compile the LightGBM models to machine code for fast serving
    (training/predictor.py); off, LightGBM predicts (same numbers, slower).
    `manifest_sha256`: refuse the bundle unless its manifest is that one (the one a
    probe process proved), so nothing parsed here differs from what was proven."""
    directory = resolve(models)
    manifest, digest = read_manifest_and_digest(directory)
    if manifest_sha256 is not None and digest != manifest_sha256:
        raise ModelError(f"{directory}: the manifest changed after the bundle was proven")
    verify_artifacts(directory, manifest)  # before any parser sees a byte
    try:
        config = TrainConfig.model_validate(manifest["params"])
    except (KeyError, ValueError) as exc:
        raise ModelError(f"{directory}: the manifest's params are invalid ({exc})") from exc
    bundle = Bundle(manifest=manifest, directory=directory, manifest_sha256=digest)
    if schema is not None:
        bundle.check_schema(schema, "the feature snapshot")
    try:
        for surface, names in manifest["rankers"].items():
            loaded: dict[str, Ranker] = {}
            for name in names:
                where = directory / surface / name
                if name == "heads":
                    loaded[name] = HeadsRanker.load(where, config.booster, compile_trees)
                elif name == "lambdarank":
                    loaded[name] = LambdaRanker.load(where, config.booster, compile_trees)
                else:
                    loaded[name] = LogisticRanker.load(where)
            bundle.rankers[surface] = loaded
        for surface in manifest.get("als", []):
            bundle.als[surface] = ALSModel.load(directory / surface / "als")
        for name, cls in ITEM_MODELS.items():
            for surface in manifest.get(name, []):
                bundle.add_item_models(surface, {name: cls.load(directory / surface / name)})
    except (OSError, ValueError, KeyError, lgb.basic.LightGBMError) as exc:
        raise ModelError(f"{directory}: cannot load the bundle's models ({exc})") from exc
    return bundle


def exercise(bundle: Bundle) -> None:
    """Score a few rows with every model of the bundle (rankers on made-up feature rows,
    candidate models on their own ids): ModelError when a score is not finite."""
    rng = np.random.default_rng(0)
    for surface, rankers in bundle.rankers.items():
        for name, ranker in rankers.items():
            rows = _probe_rows(ranker.features, rng)
            _require_finite(ranker.score(rows), f"{surface}/{name}")
    for surface, als in bundle.als.items():
        users, items = als.user_ids[:PROBE_ROWS], als.item_ids[:PROBE_ROWS]
        width = min(len(users), len(items))
        _require_finite(als.score(users[:width], items[:width]), f"{surface}/als")
        _require_finite(als.recommend(users, k=3)["score"], f"{surface}/als")
        _require_finite(als.similar_items(items, k=3)["score"], f"{surface}/als index")
    for name in ITEM_MODELS:
        for surface, model in getattr(bundle, name).items():
            users, items = model._users[:PROBE_ROWS], model._items[:PROBE_ROWS]
            width = min(len(users), len(items))
            _require_finite(model.score(users[:width], items[:width]), f"{surface}/{name}")
            _require_finite(model.recommend(users, k=3)["score"], f"{surface}/{name}")


def _probe_rows(features: list[str], rng: np.random.Generator) -> pd.DataFrame:
    """Zeros, missing values and random values for every feature."""
    values = rng.normal(0.0, 3.0, size=(PROBE_ROWS, len(features)))
    values[0], values[1] = 0.0, np.nan
    return pd.DataFrame(values, columns=features)


def _require_finite(scores: Any, what: str) -> None:
    scores = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(scores).all():
        raise ModelError(f"{what} scored probe rows with non-finite values: {scores[:4]}")


def probe_main(argv: list[str] | None = None) -> int:
    """Entry of a probe process: load the bundle in argv, score a few rows with every
    model and print one result line (PROBE_MARK + JSON: the manifest's sha256 or the
    error). Exit 0 when the bundle is proven, 1 when refused; a native crash kills the
    process, which is why this runs apart from the server."""
    parser = argparse.ArgumentParser(prog="circlerank-bundle-probe")
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--compile-trees", action="store_true")
    args = parser.parse_args(argv)
    try:
        bundle = load_bundle(args.bundle, compile_trees=args.compile_trees)
        exercise(bundle)
    except Exception as exc:  # any failure refuses the bundle
        detail = str(exc) if isinstance(exc, CircleRankError) else f"{type(exc).__name__}: {exc}"
        sys.stdout.write(PROBE_MARK + json.dumps({"error": detail}) + "\n")
        return 1
    sys.stdout.write(PROBE_MARK + json.dumps({"manifest_sha256": bundle.manifest_sha256}) + "\n")
    return 0
