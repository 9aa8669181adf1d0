"""The bundle manifest, typed: what `train` wrote, checked again when a bundle loads.

`manifest.json` is this model dumped as JSON; readers get it as a dict (the bundle's
file format), and `read_manifest` validates it here first, so a manifest edited by hand
or cut short is refused with the field that is wrong.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SurfaceRows(BaseModel):
    """The rows a surface trained and validated on, and the time they span."""

    model_config = ConfigDict(extra="forbid")

    train: int
    valid: int
    # a timestamp's text; pandas' str() of the AS_OF column's min and max
    from_: str = Field(alias="from")
    to: str


class BundleManifest(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    format: int
    version: str
    created_at: str
    until: str
    seen_until: str  # what `rank --at` and `serve --as-of` check: no row at or after it was read
    feature_schema: dict[str, Any]
    params: dict[str, Any]
    libraries: dict[str, str]
    absent_tables: list[str]
    rankers: dict[str, list[str]] = {}  # surface -> ranker names
    als: list[str] = []  # surfaces with an ALS model
    knn: list[str] = []
    ease: list[str] = []
    metrics: dict[str, dict[str, dict[str, Any]]] = {}  # surface -> ranker -> metric
    selection: dict[str, dict[str, Any]] = {}
    recall: dict[str, dict[str, float]] = {}  # surface -> source -> recall@K
    rows: dict[str, SurfaceRows] = {}
    skipped: dict[str, str] = {}  # surface -> why it was not trained
    trained_from: dict[str, str] = {}  # surface -> "logged impressions" | "hidden memberships"
    seconds: float | None = None
    peak_rss_mb: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The manifest as manifest.json holds it."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
