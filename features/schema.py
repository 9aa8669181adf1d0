"""The feature schema: what a snapshot or a training set holds, saved beside it.

Model bundles record it and refuse to load against a different one, so a model never
reads features it was not trained on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from .config import FeatureConfig
from .streams import Vocabulary

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class FeatureSchema:
    config: FeatureConfig
    vocab: Vocabulary
    views: tuple[str, ...]  # views that are on
    off: tuple[str, ...]  # views that are off for lack of a source table
    absent_tables: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]  # entity -> feature columns in store order

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "config": self.config.model_dump(mode="json"),
            "vocab": asdict(self.vocab),
            "views": list(self.views),
            "off": list(self.off),
            "absent_tables": list(self.absent_tables),
            "columns": {k: list(v) for k, v in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FeatureSchema:
        if raw.get("version") != SCHEMA_VERSION:
            raise ValueError(
                f"feature schema version {raw.get('version')!r}, expected {SCHEMA_VERSION}"
            )
        vocab = raw["vocab"]
        return cls(
            config=FeatureConfig.model_validate(raw["config"]),
            vocab=Vocabulary(
                tuple(vocab["categories"]), tuple(vocab["topics"]), tuple(vocab["cities"])
            ),
            views=tuple(raw["views"]),
            off=tuple(raw["off"]),
            absent_tables=tuple(raw["absent_tables"]),
            columns={k: tuple(v) for k, v in raw["columns"].items()},
        )

    def fingerprint(self) -> str:
        """A short digest: equal schemas, equal fingerprints."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
