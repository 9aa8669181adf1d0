"""Snapshots: every entity's features as of one time, in the offline and online stores.

Layout of a feature directory:
    manifest.json           as_of, engine, schema, row counts, timings, peak memory
    offline/<entity>.parquet  keys + features (the offline store)
    online/                 the memory-mapped online store built from the same frames,
                            minus the vector columns no cross feature reads
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from circlerank.errors import OutputError
from circlerank.progress import step

from .compute import FeatureBuilder
from .cross import cross_inputs
from .schema import FeatureSchema
from .store import build_online_store
from .views import ENTITY_KEYS, VECTOR_PREFIX

MANIFEST = "manifest.json"
OFFLINE = "offline"
ONLINE = "online"


def schema_of(builder: FeatureBuilder) -> FeatureSchema:
    """The schema of every feature the builder computes, entity by entity in store order."""
    columns: dict[str, tuple[str, ...]] = {}
    for view in builder.views:
        columns[view.entity] = (*columns.get(view.entity, ()), *builder.columns(view))
    return FeatureSchema(
        config=builder.config,
        vocab=builder.vocab,
        views=tuple(v.name for v in builder.views),
        off=tuple(v.name for v in builder.off),
        absent_tables=tuple(builder.data.report.absent),
        columns={entity: columns[entity] for entity in ENTITY_KEYS if entity in columns},
    )


@dataclass(frozen=True)
class Snapshot:
    directory: Path
    as_of: pd.Timestamp
    schema: FeatureSchema
    rows: dict[str, int]
    seconds: float


def serving_columns(builder: FeatureBuilder, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns serving reads: keys, scalars and the vectors cross features use. The
    other vectors (every window of every category) stay in the offline store only; they
    would make each online row several times wider for nothing."""
    wanted = cross_inputs(builder.vocab, builder.config)
    keep = [c for c in frame.columns if not c.startswith(VECTOR_PREFIX) or c in wanted]
    return frame[keep]


def write_snapshot(builder: FeatureBuilder, out_dir: str | Path, as_of: pd.Timestamp) -> Snapshot:
    """Materialize every entity as of `as_of` into `out_dir` (offline + online stores)."""
    out = Path(out_dir)
    started = time.perf_counter()
    try:
        (out / OFFLINE).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write feature directory {out}: {exc.strerror}") from exc
    frames = builder.materialize(as_of)
    schema = schema_of(builder)
    for entity, frame in frames.items():
        if tuple(frame.columns[len(ENTITY_KEYS[entity]) :]) != schema.columns[entity]:
            raise AssertionError(f"materialized {entity} columns differ from the schema")
    with step(f"writing the offline store to {out / OFFLINE}"):
        for stale in (out / OFFLINE).glob("*.parquet"):
            if stale.stem not in frames:
                stale.unlink()
        for entity, frame in frames.items():
            frame.to_parquet(out / OFFLINE / f"{entity}.parquet", index=False)
    with step(f"building the online store in {out / ONLINE}"):
        build_online_store(
            out / ONLINE,
            {entity: serving_columns(builder, frame) for entity, frame in frames.items()},
            {entity: ENTITY_KEYS[entity] for entity in frames},
            as_of=as_of,
            meta={"schema": schema.fingerprint()},
        )
    snapshot = Snapshot(
        directory=out,
        as_of=as_of,
        schema=schema,
        rows={entity: len(frame) for entity, frame in frames.items()},
        seconds=time.perf_counter() - started,
    )
    write_manifest(snapshot, engine=builder.engine.name)
    return snapshot


def write_manifest(snapshot: Snapshot, engine: str, extra: dict[str, Any] | None = None) -> None:
    manifest = {
        "as_of": snapshot.as_of.isoformat(),
        "engine": engine,
        "rows": snapshot.rows,
        "seconds": round(snapshot.seconds, 3),
        "schema": snapshot.schema.to_dict(),
        "schema_fingerprint": snapshot.schema.fingerprint(),
        **(extra or {}),
    }
    (snapshot.directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def read_schema(feature_dir: str | Path) -> tuple[pd.Timestamp, FeatureSchema]:
    """The as_of and schema of a written snapshot."""
    path = Path(feature_dir) / MANIFEST
    try:
        raw = json.loads(path.read_text())
        return pd.Timestamp(raw["as_of"]), FeatureSchema.from_dict(raw["schema"])
    except (OSError, ValueError, KeyError) as exc:
        raise OutputError(f"{path}: not a readable feature snapshot manifest ({exc})") from exc
