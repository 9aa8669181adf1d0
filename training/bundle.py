"""Model bundles: everything `rank` and the API need, versioned on disk.

    MODELS/<version>/manifest.json     version, data range, feature schema, params,
                                       validation metrics, library versions, artifacts
    MODELS/<version>/<surface>/heads/  LightGBM text models, one per action
    MODELS/<version>/<surface>/lambdarank/, logistic/, als/, knn/, ease/
    MODELS/current -> <version>        switched atomically (symlink + rename)

Loading checks the manifest and refuses a bundle whose feature schema differs from the
features it would be served with.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import lightgbm as lgb
import pandas as pd

from circlerank.errors import BundleMismatchError, ModelError, TrainedAfterError
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
from .ranker import Ranker

MANIFEST = "manifest.json"
CURRENT = "current"
FORMAT = 2  # 2: the logistic regression keeps its training range
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
        """Write MODELS/<version>/ and point MODELS/current at it."""
        out = models_dir / self.version
        for surface, rankers in self.rankers.items():
            for name, ranker in rankers.items():
                ranker.save(out / surface / name)
        for surface, model in self.als.items():
            model.save(out / surface / "als")
        for name in ITEM_MODELS:
            for surface, item_model in getattr(self, name).items():
                item_model.save(out / surface / name)
        (out / MANIFEST).write_text(json.dumps(self.manifest, indent=2, default=str) + "\n")
        point_current(models_dir, self.version)
        self.directory = out
        return out


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
    try:
        manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{directory / MANIFEST}: unreadable bundle manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else manifest
        raise ModelError(f"{directory}: bundle format {found!r}, this engine reads {FORMAT}")
    return manifest


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
    models: str | Path, schema: FeatureSchema | None = None, compile_trees: bool = True
) -> Bundle:
    """Load a bundle; with `schema`, refuse it unless the feature schemas match.
    `compile_trees`: compile the LightGBM models to machine code for fast serving
    (training/predictor.py); off, LightGBM predicts (same numbers, slower)."""
    directory = resolve(models)
    manifest = read_manifest(directory)
    config = TrainConfig.model_validate(manifest["params"])
    bundle = Bundle(manifest=manifest, directory=directory)
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
