"""Writing an online store from feature tables, replacing any previous one atomically.

The store is built in a hidden directory beside its destination and then swapped in
with one rename (Linux `renameat2(RENAME_EXCHANGE)` when a store is already there), so
a reader opens either the old store or the new one, never a half-written mix. Readers
that already mapped the old store keep reading it until they reopen.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import re
import shutil
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from circlerank.durable import fsync_path
from circlerank.errors import FeatureStoreError, OutputError
from circlerank.progress import step

from .keys import bucket_starts, key_hashes, probe_hash
from .online import BUCKETS, FORMAT, FORMAT_VERSION, HASHES, MANIFEST, VALUES, key_file

log = logging.getLogger(__name__)

_TABLE_NAME = re.compile(r"[A-Za-z0-9_-]+")
# rows gathered per copy into the value file: a few MB, so the gather stays in cache
_BLOCK_ROWS = 8192
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def build_online_store(
    directory: str | os.PathLike[str],
    tables: Mapping[str, pd.DataFrame],
    keys: Mapping[str, Sequence[str]],
    *,
    as_of: pd.Timestamp,
    meta: Mapping[str, object] | None = None,
) -> None:
    """Write `tables` as an online store at `directory`, replacing any store there.

    `keys` names each table's id columns (one for entity tables, two for pair tables);
    every other column is a feature and must be numeric. Features are stored as float64,
    nulls as NaN (so integers beyond 2**53 lose precision). `meta` must be JSON-able.
    """
    target = Path(directory)
    stamp = _utc(as_of)
    extra = _json_meta(meta)
    plans = {name: _plan(name, tables[name], keys) for name in sorted(tables)}
    for name in keys:
        if name not in tables:
            raise FeatureStoreError(f"keys are given for table '{name}', which is not in tables")
    _check_target(target)
    staging = target.parent / f".{target.name}.building-{uuid.uuid4().hex[:12]}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    except OSError as exc:
        raise OutputError(f"cannot write the online store at {target}: {exc}") from exc
    try:
        layout = {
            name: _write_table(staging / name, name, tables[name], key_columns, columns)
            for name, (key_columns, columns) in plans.items()
        }
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "as_of": stamp.isoformat(),
            "built_at": pd.Timestamp.now(tz="UTC").isoformat(),
            "key_hash": probe_hash(),
            "tables": layout,
            "meta": extra,
        }
        _write_manifest(staging / MANIFEST, manifest)
        fsync_path(staging)
        _install(staging, target)
    except OSError as exc:
        _discard(staging)
        raise OutputError(f"cannot write the online store at {target}: {exc}") from exc
    except BaseException:
        _discard(staging)
        raise
    log.info("online store written to %s: %s", target, ", ".join(plans) or "no tables")


def _utc(as_of: pd.Timestamp) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise FeatureStoreError(f"as_of: cannot read {as_of!r} as a timestamp") from exc
    if pd.isna(stamp):
        raise FeatureStoreError("as_of is missing (NaT)")
    # naive times are read as UTC, as everywhere in the engine
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _json_meta(meta: Mapping[str, object] | None) -> dict[str, object]:
    extra = dict(meta or {})
    try:
        json.dumps(extra, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise FeatureStoreError(f"meta must be JSON-serialisable: {exc}") from exc
    return extra


def _plan(
    name: str, frame: pd.DataFrame, keys: Mapping[str, Sequence[str]]
) -> tuple[list[str], list[str]]:
    """Check one table and split its columns into key columns and feature columns."""
    if not _TABLE_NAME.fullmatch(name):
        raise FeatureStoreError(
            f"table name {name!r} is not usable as a directory name: use letters, digits, _ and -"
        )
    if name not in keys:
        raise FeatureStoreError(f"table '{name}': no key columns given in keys")
    given = keys[name]
    key_columns = [given] if isinstance(given, str) else list(given)
    if not key_columns or len(set(key_columns)) != len(key_columns):
        raise FeatureStoreError(f"table '{name}': key columns {key_columns} must be distinct")
    names = list(frame.columns)
    if not all(isinstance(c, str) for c in names) or len(set(names)) != len(names):
        raise FeatureStoreError(f"table '{name}': column names must be distinct strings")
    for column in key_columns:
        if column not in frame.columns:
            raise FeatureStoreError(
                f"table '{name}': key column '{column}' is missing "
                f"(columns present: {', '.join(names) or 'none'})"
            )
        _check_key_column(name, column, frame[column])
    columns = [c for c in names if c not in key_columns]
    for column in columns:
        dtype = frame[column].dtype
        if not _numeric(dtype):
            raise FeatureStoreError(
                f"table '{name}': feature column '{column}' has dtype {dtype}, which is not "
                "numeric; the online store holds numbers only"
            )
    return key_columns, columns


def _numeric(dtype: Any) -> bool:
    if pd.api.types.is_bool_dtype(dtype):
        return True
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype)


def _check_key_column(name: str, column: str, values: pd.Series) -> None:
    if not pd.api.types.is_string_dtype(values):
        raise FeatureStoreError(
            f"table '{name}': key column '{column}' must hold strings, it has dtype {values.dtype}"
        )
    nulls = int(values.isna().sum())
    if nulls:
        raise FeatureStoreError(f"table '{name}': key column '{column}' has {nulls} null ids")
    # numpy's fixed-width strings drop trailing NULs, which would make such ids unfindable
    trailing = int(values.str.endswith("\x00").sum())
    if trailing:
        raise FeatureStoreError(
            f"table '{name}': key column '{column}' has {trailing} ids ending in a NUL character"
        )


def _check_target(target: Path) -> None:
    if not os.path.lexists(target):
        return
    if not target.is_dir():
        raise FeatureStoreError(f"cannot write an online store at {target}: it is not a directory")
    if not (target / MANIFEST).is_file() and any(target.iterdir()):
        raise FeatureStoreError(
            f"refusing to replace {target}: it is a non-empty directory without {MANIFEST}, "
            "so not an online store"
        )


def _write_table(
    folder: Path, name: str, frame: pd.DataFrame, key_columns: list[str], columns: list[str]
) -> dict[str, Any]:
    with step(f"online store: table {name} ({len(frame):,} rows, {len(columns)} features)"):
        ids = [frame[c].to_numpy(dtype=object) for c in key_columns]
        hashes = key_hashes(ids)
        order = np.argsort(hashes, kind="stable")
        hashes = hashes[order]
        # fixed-width str (so the reader can map the ids instead of parsing them), made
        # before sorting: converting the sorted objects reads them in random memory order
        ids = [column.astype(str)[order] for column in ids]
        collisions = _check_unique(name, key_columns, hashes, ids)
        folder.mkdir()
        _save(folder / HASHES, hashes)
        _save(folder / BUCKETS, bucket_starts(hashes))
        for position, column in enumerate(ids):
            _save(folder / key_file(position), column)
        _write_values(folder / VALUES, frame, columns, order)
    return {
        "keys": key_columns,
        "columns": columns,
        "rows": len(frame),
        "hash_collisions": collisions,
    }


def _check_unique(
    name: str, key_columns: list[str], hashes: np.ndarray, ids: list[np.ndarray]
) -> int:
    """Raise on duplicate keys; return how many keys share their hash with another."""
    same = hashes[1:] == hashes[:-1]
    if not same.any():
        return 0
    # equal keys have equal hashes, so only rows in runs of one hash can be duplicates
    in_run = np.zeros(len(hashes), dtype=bool)
    in_run[1:] |= same
    in_run[:-1] |= same
    rows = np.flatnonzero(in_run)
    suspects = pd.DataFrame(
        {c: column[rows].astype(object) for c, column in zip(key_columns, ids, strict=True)}
    )
    duplicated = suspects.duplicated()
    if duplicated.any():
        example = tuple(suspects[duplicated].iloc[0])
        shown = repr(example[0]) if len(example) == 1 else repr(example)
        raise FeatureStoreError(
            f"table '{name}': {int(duplicated.sum())} duplicate keys in "
            f"({', '.join(key_columns)}), e.g. {shown}"
        )
    collisions = int(same.sum())
    log.warning("table '%s': %d keys share a 64-bit hash; lookups stay exact", name, collisions)
    return collisions


def _write_values(path: Path, frame: pd.DataFrame, columns: list[str], order: np.ndarray) -> None:
    shape = (len(frame), len(columns))
    if shape[0] == 0 or shape[1] == 0:
        _save(path, np.empty(shape, dtype=np.float64))
        return
    # C order first: gathering rows from pandas' column-major block is 20x slower
    source = np.ascontiguousarray(frame[columns].to_numpy(dtype=np.float64, na_value=np.nan))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=shape)
    for start in range(0, shape[0], _BLOCK_ROWS):
        stop = start + _BLOCK_ROWS
        np.take(source, order[start:stop], axis=0, out=out[start:stop])
    out.flush()
    del out
    fsync_path(path)


def _save(path: Path, array: np.ndarray) -> None:
    with path.open("wb") as handle:
        np.save(handle, array, allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    text = json.dumps(manifest, indent=2, allow_nan=False)
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _install(staging: Path, target: Path) -> None:
    """Move the finished store at `staging` to `target`, removing the one it replaces."""
    if not os.path.lexists(target):
        os.rename(staging, target)
    elif exchange_paths(staging, target):
        _discard(staging)  # it now holds the old store
    else:
        # no atomic swap here: for a moment there is no store at target; readers retry
        aside = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
        os.rename(target, aside)
        try:
            os.rename(staging, target)
        except OSError:
            os.rename(aside, target)
            raise
        _discard(aside)
    fsync_path(target.parent)


def _discard(path: Path) -> None:
    # a store reached through a symlink is swapped as the link; remove only the link
    if path.is_symlink():
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


def exchange_paths(first: Path, second: Path) -> bool:
    """Swap two paths atomically with Linux renameat2; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    path = ctypes.c_char_p
    renameat2.argtypes = [ctypes.c_int, path, ctypes.c_int, path, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    done = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))
