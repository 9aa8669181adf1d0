"""Serving feature rows by key: the reader interface and its memory-mapped file store.

Each table is a float64 matrix in `values.npy` whose rows are sorted by a 64-bit hash
of the key, beside the sorted hashes, a bucket index over them and the key strings.
Opening maps the files: no parsing and no Python dict of ids, so it takes milliseconds
whatever the row count and worker processes share one copy through the page cache.
A lookup hashes the ids (pair keys: each id, then the two hashes mixed into one), jumps
to their buckets and gathers the rows; `keys.py` has the details and the exactness.
"""

from __future__ import annotations

import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, TypeAlias

import numpy as np
import pandas as pd

from circlerank.errors import FeatureStoreError

from .keys import HashedIds, bucket_bits, hashed_columns, locate, probe_hash, request_keys

FORMAT = "circlerank-online-store"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VALUES = "values.npy"
HASHES = "key_hashes.npy"
BUCKETS = "key_buckets.npy"

IdSequence: TypeAlias = Sequence[str] | np.ndarray | pd.Series | pd.Index | HashedIds
# one id sequence for an entity table; a tuple of one sequence per key column for pairs
Ids: TypeAlias = IdSequence | tuple[IdSequence, ...]

_OPEN_ATTEMPTS = 3
_REPLACED_PATIENCE_S = 10.0  # how long to keep chasing a store that rebuilds keep replacing


def key_file(position: int) -> str:
    """The file holding the strings of a table's key column at `position`."""
    return f"key_{position}.npy"


class OnlineStoreReader(ABC):
    """What serving needs from an online store, whatever holds the rows.

    Unknown keys are not errors: they give rows of NaN from `lookup` and False from
    `found`, so new users and circles are served with missing features.
    """

    @property
    @abstractmethod
    def tables(self) -> tuple[str, ...]:
        """Names of the tables, sorted."""

    @property
    @abstractmethod
    def as_of(self) -> pd.Timestamp:
        """The UTC time the features were computed as of."""

    @abstractmethod
    def columns(self, table: str) -> tuple[str, ...]:
        """The feature columns of `table`, in the order of `lookup`'s columns."""

    @abstractmethod
    def key_columns(self, table: str) -> tuple[str, ...]:
        """The id columns that key `table`: one for entities, two for pairs."""

    @abstractmethod
    def lookup(self, table: str, ids: Ids) -> np.ndarray:
        """A new (len(ids), len(columns)) float64 array of feature rows, NaN when unknown."""

    @abstractmethod
    def found(self, table: str, ids: Ids) -> np.ndarray:
        """A bool array saying which of the requested keys `table` holds."""

    def lookup_found(self, table: str, ids: Ids) -> tuple[np.ndarray, np.ndarray]:
        """`lookup` and `found` together (stores may do both in one pass)."""
        return self.lookup(table, ids), self.found(table, ids)

    def frame(self, table: str, ids: Ids) -> pd.DataFrame:
        """`lookup` as a DataFrame indexed by the requested keys."""
        values = self.lookup(table, ids)
        keys = self.key_columns(table)
        if len(keys) == 1:
            index = pd.Index(np.asarray(ids, dtype=object), name=keys[0])
        else:
            assert isinstance(ids, tuple | list)  # lookup has checked the shape
            index = pd.MultiIndex.from_arrays([np.asarray(i, dtype=object) for i in ids])
            index.names = list(keys)
        return pd.DataFrame(values, index=index, columns=list(self.columns(table)))

    def close(self) -> None:
        """Release what the store holds; the default holds nothing that needs it."""
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class _Table:
    key_columns: tuple[str, ...]
    columns: tuple[str, ...]
    # the arrays below are plain ndarray views of the read-only mappings: np.memmap
    # costs a Python call per indexing and makes gathers return memmap objects
    matrix: np.ndarray  # (rows, columns) float64: the np.memmap `OnlineStore.matrix` shows
    values: np.ndarray  # the same memory as `matrix`
    hashes: np.ndarray  # (rows,) uint64, sorted
    starts: np.ndarray  # the bucket index of hashes, see keys.bucket_starts
    keys: tuple[np.ndarray, ...]  # one (rows,) fixed-width str array per key column
    collisions: bool


class _Vanished(Exception):
    """A store file is missing: the store is broken, or was replaced while opening
    (`replaced`: the directory at the store's path is no longer the one we opened)."""

    def __init__(self, message: str, replaced: bool = False) -> None:
        super().__init__(message)
        self.replaced = replaced


class OnlineStore(OnlineStoreReader):
    """The embedded online store: memory-mapped .npy files written by `build_online_store`."""

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        tables: dict[str, _Table],
        as_of: pd.Timestamp,
        verify_ids: bool = False,
    ) -> None:
        self.path = path
        self.verify_ids = verify_ids
        self.manifest = manifest
        self._tables = tables
        self._as_of = as_of

    @classmethod
    def open(cls, directory: str | os.PathLike[str], *, verify_ids: bool = False) -> OnlineStore:
        """Map the store at `directory`; raises FeatureStoreError if it is missing or corrupt.

        `verify_ids` compares the stored id strings of every hit, so that an unknown id
        can never match a stored key by a 64-bit hash collision (see keys.py); it costs
        about 150 µs per 1,000 ids.
        """
        path = Path(directory)
        deadline = time.monotonic() + _REPLACED_PATIENCE_S
        broken = 0
        while True:
            try:
                return cls._open_once(path, verify_ids)
            except _Vanished as exc:
                # a rebuild replaced the store while we read it: the new one is there,
                # so look again at once (rebuilds in a tight loop may take a few tries);
                # a store that loses files without being replaced gets a short grace
                # (a rename that cannot swap leaves no store for an instant), then fails
                if exc.replaced and time.monotonic() < deadline:
                    continue
                broken += 1
                if exc.replaced or broken >= _OPEN_ATTEMPTS:
                    raise FeatureStoreError(str(exc)) from None
                time.sleep(0.02 * broken)

    @classmethod
    def _open_once(cls, path: Path, verify_ids: bool) -> OnlineStore:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            raise _Vanished(f"no online store at {path}: the directory does not exist") from None
        except NotADirectoryError:
            raise FeatureStoreError(f"no online store at {path}: it is not a directory") from None
        try:
            # every file is opened relative to this one directory, so a rebuild that
            # swaps the directory mid-open cannot mix files of two builds
            manifest = _read_manifest(fd, path)
            as_of, layout = _check_manifest(manifest, path / MANIFEST)
            tables = {name: _open_table(fd, path, name, spec) for name, spec in layout.items()}
        except _Vanished as exc:
            raise _Vanished(str(exc), replaced=_replaced(fd, path)) from None
        finally:
            os.close(fd)
        return cls(path, manifest, tables, as_of, verify_ids)

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(sorted(self._tables))

    @property
    def as_of(self) -> pd.Timestamp:
        return self._as_of

    @property
    def meta(self) -> dict[str, Any]:
        """The `meta` mapping given when the store was built."""
        return dict(self.manifest.get("meta") or {})

    def columns(self, table: str) -> tuple[str, ...]:
        return self._table(table).columns

    def key_columns(self, table: str) -> tuple[str, ...]:
        return self._table(table).key_columns

    def rows(self, table: str) -> int:
        """How many keys `table` holds."""
        return len(self._table(table).hashes)

    def keys(self, table: str) -> tuple[np.ndarray, ...]:
        """The stored key strings of `table`, one array per key column, in `matrix` row
        order (fixed-width text: a trailing NUL of an id does not survive)."""
        return self._table(table).keys

    def matrix(self, table: str) -> np.ndarray:
        """The whole read-only, memory-mapped value matrix of `table`, rows in hash order."""
        return self._table(table).matrix

    def lookup(self, table: str, ids: Ids) -> np.ndarray:
        spec = self._table(table)
        pos, hit = self._locate(table, spec, ids)
        if len(spec.values) == 0:
            return np.full((len(pos), len(spec.columns)), np.nan)
        out = np.take(spec.values, pos, axis=0, mode="clip")  # pos is always in range
        out[~hit] = np.nan
        return out

    def found(self, table: str, ids: Ids) -> np.ndarray:
        spec = self._table(table)
        return self._locate(table, spec, ids)[1]

    def lookup_found(self, table: str, ids: Ids) -> tuple[np.ndarray, np.ndarray]:
        spec = self._table(table)
        pos, hit = self._locate(table, spec, ids)
        if len(spec.values) == 0:
            return np.full((len(pos), len(spec.columns)), np.nan), hit
        out = np.take(spec.values, pos, axis=0, mode="clip")
        out[~hit] = np.nan
        return out, hit

    def close(self) -> None:
        # the mappings close when the last array that views them is collected
        self._tables = {}

    def _locate(self, name: str, spec: _Table, ids: Ids) -> tuple[np.ndarray, np.ndarray]:
        queries = request_keys(ids, len(spec.key_columns), name)
        return locate(
            spec.hashes,
            spec.starts,
            spec.keys,
            queries,
            collisions=spec.collisions,
            verify=self.verify_ids,
            hashed=hashed_columns(ids),
        )

    def _table(self, table: str) -> _Table:
        try:
            return self._tables[table]
        except KeyError:
            valid = ", ".join(self.tables) or "none"
            raise FeatureStoreError(
                f"online store {self.path} has no table {table!r}; tables: {valid}"
            ) from None


def _opener(fd: int) -> Any:
    def opener(name: str, flags: int) -> int:
        return os.open(name, flags, dir_fd=fd)

    return opener


def _replaced(fd: int, path: Path) -> bool:
    """Whether the directory at `path` is no longer the one open as `fd`."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False  # nothing there yet: a swap in progress, covered by the grace retries
    opened = os.fstat(fd)
    return (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino)


def _read_manifest(fd: int, path: Path) -> dict[str, Any]:
    try:
        with open(MANIFEST, "rb", opener=_opener(fd)) as handle:
            manifest = json.load(handle)
    except FileNotFoundError:
        raise _Vanished(f"no online store at {path}: {path / MANIFEST} is missing") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise FeatureStoreError(f"{path / MANIFEST} is corrupt: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise FeatureStoreError(f"{path / MANIFEST} is corrupt: expected a JSON object")
    return manifest


def _check_manifest(
    manifest: dict[str, Any], file: Path
) -> tuple[pd.Timestamp, dict[str, dict[str, Any]]]:
    if manifest.get("format") != FORMAT:
        raise FeatureStoreError(f"{file} is not an online store manifest (no format {FORMAT!r})")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise FeatureStoreError(
            f"{file}: store format version {version!r}, this reader reads version "
            f"{FORMAT_VERSION}; rebuild the store"
        )
    if manifest.get("key_hash") != probe_hash():
        raise FeatureStoreError(
            f"{file}: keys were hashed differently when the store was built (another "
            "pandas version?); rebuild the store"
        )
    try:
        as_of = pd.Timestamp(manifest["as_of"])
        layout = manifest["tables"]
        if not isinstance(layout, dict) or as_of.tzinfo is None:
            raise TypeError("bad tables or naive as_of")
    except (KeyError, TypeError, ValueError) as exc:
        raise FeatureStoreError(f"{file} is corrupt: {exc!r}") from exc
    return as_of, layout


def _open_table(fd: int, path: Path, name: str, spec: dict[str, Any]) -> _Table:
    where = path / name
    try:
        key_columns = tuple(str(c) for c in spec["keys"])
        columns = tuple(str(c) for c in spec["columns"])
        rows = int(spec["rows"])
        collisions = int(spec["hash_collisions"]) > 0
    except (KeyError, TypeError, ValueError) as exc:
        raise FeatureStoreError(f"{path / MANIFEST} is corrupt: table {name!r}: {exc!r}") from exc
    values = _map_npy(fd, where / VALUES, f"{name}/{VALUES}", (rows, len(columns)), "f8")
    hashes = _map_npy(fd, where / HASHES, f"{name}/{HASHES}", (rows,), "u8")
    buckets = 2 ** bucket_bits(rows) + 1
    starts = _map_npy(fd, where / BUCKETS, f"{name}/{BUCKETS}", (buckets,), "i8")
    keys = tuple(
        _map_npy(fd, where / key_file(i), f"{name}/{key_file(i)}", (rows,), "U").view(np.ndarray)
        for i in range(len(key_columns))
    )
    return _Table(
        key_columns=key_columns,
        columns=columns,
        matrix=values,
        values=values.view(np.ndarray),
        hashes=hashes.view(np.ndarray),
        starts=starts.view(np.ndarray),
        keys=keys,
        collisions=collisions,
    )


def _map_npy(fd: int, file: Path, relative: str, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """Memory-map a .npy file read-only and check it holds what the manifest says.

    `kind` is a dtype string without byte order ("f8", "u8") or "U" for any str width.
    """
    try:
        with open(relative, "rb", opener=_opener(fd)) as handle:
            array = _map_open_npy(handle)
    except FileNotFoundError:
        raise _Vanished(f"{file} is missing: the store is corrupt") from None
    except ValueError as exc:
        raise FeatureStoreError(f"{file} is corrupt: {exc}") from exc
    got = array.dtype.str[1:]
    if array.shape != shape or not (got == kind or (kind == "U" and got.startswith("U"))):
        raise FeatureStoreError(
            f"{file} is corrupt: it holds {got} {array.shape}, the manifest says {kind} {shape}"
        )
    return array


def _map_open_npy(handle: IO[bytes]) -> np.ndarray:
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ValueError(f"unsupported .npy version {version}")
    if fortran and len(shape) > 1:
        raise ValueError("array is in Fortran order, expected C order")
    if dtype.hasobject:
        raise ValueError("array holds Python objects")
    if int(np.prod(shape)) == 0:
        empty = np.empty(shape, dtype=dtype)
        empty.flags.writeable = False
        return empty
    return np.memmap(handle, dtype=dtype, mode="r", shape=shape, offset=handle.tell())
