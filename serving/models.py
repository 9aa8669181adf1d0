"""The bundle a server ranks with, swapped atomically on reload.

A request reads `holder.current` once and ranks with that `Served` to the end, so a
swap never mixes two bundles in one response. A candidate bundle is proven before this
process parses any of it: its files must match the manifest's digests, then a separate
short-lived process loads it and scores a few rows with every model (a native parser
that crashes on a damaged file takes down that process, not this one). Only then is it
loaded here, checked against the snapshot's feature schema and made to rank a probe
request on every surface it was trained for before it replaces the current one;
otherwise it is refused, the current one keeps serving and the reason is kept for
/readyz (`holder.refused`).

The bundle last swapped in is recorded in MODELS/last-good.json. A process that starts
while MODELS/current cannot serve (a worker restarted by uvicorn, a new server) serves
that bundle instead, with the refusal kept for /readyz. The record also lets a process
skip the probe process for that very bundle (same manifest bytes, same libraries): its
files are still checked against their digests before they are parsed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from circlerank.errors import ModelError
from circlerank.memory import freeze_heap
from ranking.components import RankContext
from ranking.cursor import CursorSigner
from ranking.pages import Pager
from ranking.strategy import Strategies
from training.bundle import (
    MANIFEST,
    PROBE_MARK,
    Bundle,
    library_versions,
    load_bundle,
    read_manifest_and_digest,
    resolve,
    verify_artifacts,
)

from .world import ServingWorld, describe_failure

log = logging.getLogger(__name__)
PROBE_USER = "\x00circlerank-probe"  # no real user: ranks the cold-start path
LAST_GOOD = "last-good.json"
PROBE_TIMEOUT_S = 600.0  # a first load compiles the trees: about 20 s for the feed heads
_PROBE_CODE = "import sys; from training.bundle import probe_main; sys.exit(probe_main())"


@dataclass(frozen=True)
class Served:
    bundle: Bundle
    pager: Pager
    loaded_at: float

    @property
    def version(self) -> str:
        return self.bundle.version


@dataclass(frozen=True)
class Refusal:
    target: str  # the bundle directory refused
    reason: str
    at: float


def prove_in_child(directory: Path, compile_trees: bool, timeout_s: float = PROBE_TIMEOUT_S) -> str:
    """Load the bundle in `directory` and score a few rows with every model in a separate
    process (training.bundle.probe_main); the sha256 of the manifest it proved, or
    ModelError saying how the probe failed (a refusal, a crash, a timeout)."""
    command = [sys.executable, "-P", "-c", _PROBE_CODE, str(directory)]
    if compile_trees:
        command.append("--compile-trees")
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ModelError(
            f"{directory}: the bundle's probe process did not finish in {timeout_s:g} s"
        ) from None
    except OSError as exc:
        raise ModelError(f"{directory}: cannot start the bundle's probe process ({exc})") from exc
    output = (done.stdout + b"\n" + done.stderr).decode(errors="replace")
    result = _probe_result(output)
    if done.returncode == 0 and isinstance(result.get("manifest_sha256"), str):
        return str(result["manifest_sha256"])
    if isinstance(result.get("error"), str):
        raise ModelError(str(result["error"]))
    raise ModelError(
        f"{directory}: cannot load the bundle: its probe process {_ending(done.returncode)} "
        f"while loading and scoring it (last output: {_last_words(output)})"
    )


def _probe_result(output: str) -> dict[str, Any]:
    for line in reversed(output.splitlines()):
        if line.startswith(PROBE_MARK):
            with contextlib.suppress(ValueError):
                found = json.loads(line[len(PROBE_MARK) :])
                return found if isinstance(found, dict) else {}
    return {}


def _ending(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        if -returncode == signal.SIGKILL:  # not a crash of its own: out of memory, or a kill
            return f"was killed by {name} (out of memory, or killed from outside)"
        return f"was killed by {name} (a native crash)"
    return f"exited with status {returncode}"


def _last_words(output: str, width: int = 200) -> str:
    """The line of a dead probe's output most likely to say why: the last fatal or error
    line (LightGBM prints `[LightGBM] [Fatal] ...`), else the last line."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith(PROBE_MARK)]
    telling = [ln for ln in lines if "fatal" in ln.lower() or "error" in ln.lower()]
    last = (telling or lines or ["none: it died before flushing any"])[-1]
    return last if len(last) <= width else last[: width - 1] + "…"


@dataclass(frozen=True)
class LastGood:
    """The bundle a process of this server last swapped in (MODELS/last-good.json)."""

    bundle: str  # its directory: a name inside MODELS, or an absolute path
    manifest_sha256: str
    libraries: dict[str, str]
    compile_trees: bool  # the probe process compiled the trees too

    def directory(self, models: Path) -> Path:
        return (models / self.bundle).resolve()


def read_last_good(models: Path) -> LastGood | None:
    """The record of the last good bundle in MODELS, if there is a readable one."""
    path = models / LAST_GOOD
    try:
        fields = json.loads(path.read_text())
        return LastGood(
            bundle=str(fields["bundle"]),
            manifest_sha256=str(fields["manifest_sha256"]),
            libraries={str(k): str(v) for k, v in fields["libraries"].items()},
            compile_trees=bool(fields["compile_trees"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring %s: unreadable (%s)", path, exc)
        return None


def last_good_directory(models: Path) -> Path | None:
    """The directory of the last good bundle recorded in MODELS, if any."""
    record = read_last_good(Path(models))
    return record.directory(Path(models)) if record is not None else None


def write_last_good(models: Path, record: LastGood) -> None:
    """Record the last good bundle atomically (several workers may write it at once)."""
    temporary = models / f".{LAST_GOOD}.{os.getpid()}.{threading.get_ident()}"
    temporary.write_text(json.dumps({**asdict(record), "at": time.time()}, indent=2) + "\n")
    os.replace(temporary, models / LAST_GOOD)


class ModelHolder:
    def __init__(
        self,
        models: Path,
        world: ServingWorld,
        strategies: Strategies,
        signer: CursorSigner,
        compile_trees: bool = True,
        on_swap: Callable[[str | None, str], None] | None = None,
    ) -> None:
        self.models = models
        self.world = world
        self.strategies = strategies
        self.signer = signer
        self.compile_trees = compile_trees
        self.on_swap = on_swap or (lambda old, new: None)
        self.refused: Refusal | None = None
        self._swap = threading.Lock()
        self._unrecorded: str | None = None  # why MODELS/last-good.json cannot be written
        self._proven: set[tuple[Path, str]] = set()  # (directory, manifest sha256) served here
        self.current: Served | None = None  # none until a bundle loads (see /readyz)

    @property
    def records_last_good(self) -> bool:
        """MODELS is a directory of bundles (not one bundle), where the record lives."""
        return not (self.models / MANIFEST).is_file()

    def _prove(self, directory: Path) -> str:
        """The sha256 of the bundle's manifest once the bundle is proven: its files match
        their digests and a probe process loaded it and scored with it (unless this very
        bundle was proven on this host before); ModelError otherwise."""
        manifest, digest = read_manifest_and_digest(directory)
        if self._proven_before(directory, digest):
            return digest  # load_bundle still checks every file's digest
        verify_artifacts(directory, manifest)  # a damaged file needs no probe process
        proven = prove_in_child(directory, self.compile_trees)
        if proven != digest:
            raise ModelError(f"{directory}: the manifest changed while the bundle was probed")
        return digest

    def _proven_before(self, directory: Path, manifest_sha256: str) -> bool:
        """This process served these manifest bytes from this directory, or the record of
        the last good bundle says a process here proved them with these libraries."""
        if (directory.resolve(), manifest_sha256) in self._proven:
            return True
        record = read_last_good(self.models) if self.records_last_good else None
        return (
            record is not None
            and record.directory(self.models) == directory.resolve()
            and record.manifest_sha256 == manifest_sha256
            and record.libraries == library_versions()
            and (record.compile_trees or not self.compile_trees)
        )

    def _prepare(self, directory: Path) -> Served:
        digest = self._prove(directory)
        bundle = load_bundle(
            directory, self.world.schema, compile_trees=self.compile_trees, manifest_sha256=digest
        )
        world = self.world

        def contexts(surface: str, as_of: pd.Timestamp) -> RankContext:
            return RankContext(surface, world.catalog(as_of), world.features.rows, bundle)

        served = Served(bundle, Pager(contexts, self.strategies, self.signer), time.time())
        for surface in bundle.rankers:  # ranks with every model before it may serve
            if surface in self.strategies.defaults:
                served.pager.page(PROBE_USER, surface, limit=5, now=world.as_of)
            for strategy in self.strategies.strategies.values():
                if strategy.surface == surface:
                    pipeline = served.pager.pipeline(strategy.name, surface)
                    pipeline.prepare(contexts(surface, world.as_of))
        return served

    @property
    def version(self) -> str | None:
        return self.current.version if self.current is not None else None

    def _is_current(self, target: Path) -> bool:
        return self.current is not None and target == self.current.bundle.directory

    def reload(self) -> Served:
        """Swap in the bundle MODELS points at now, if it differs from the current one;
        ModelError (and a recorded refusal) if it cannot serve. With nothing served yet,
        a refusal falls back to the last good bundle, if one is recorded and serves."""
        with self._swap:
            try:
                target = resolve(self.models)
            except ModelError as exc:
                self._refuse(str(self.models), describe_failure(exc))
                self._fall_back(None)
                raise
            if self.current is not None and self._is_current(target):
                return self.current
            try:
                served = self._prepare(target)
            except Exception as exc:  # any failure of a candidate bundle is a refusal
                reason = describe_failure(exc)
                self._refuse(str(target), reason)
                self._fall_back(target)
                raise ModelError(f"refused bundle {target}: {reason}") from exc
            self._swap_in(served)
            self.refused = None
            self._record_last_good(served)
            return served

    def _swap_in(self, served: Served) -> None:
        old = self.version
        self.current = served
        if served.bundle.directory is not None and served.bundle.manifest_sha256 is not None:
            self._proven.add((served.bundle.directory.resolve(), served.bundle.manifest_sha256))
        freeze_heap()  # the new bundle and the world it serves live long
        log.info("model bundle %s -> %s", old or "none", served.version)
        self.on_swap(old, served.version)

    def _fall_back(self, refused: Path | None) -> None:
        """With nothing served, serve the last good bundle instead of the refused one (its
        files checked against their digests again); the refusal stays for /readyz."""
        if self.current is not None or not self.records_last_good:
            return
        last_good = last_good_directory(self.models)
        if last_good is None or (refused is not None and last_good == refused.resolve()):
            return
        try:
            served = self._prepare(last_good)
        except Exception as exc:  # the last good bundle was damaged since: nothing serves
            log.error("the last good bundle %s cannot serve either: %s", last_good, exc)
            return
        self._swap_in(served)
        why = self.refused.target if self.refused is not None else str(refused)
        log.warning("serving the last good bundle %s: %s was refused", served.version, why)

    def _record_last_good(self, served: Served) -> None:
        if not self.records_last_good or served.bundle.directory is None:
            return
        directory = served.bundle.directory.resolve()
        inside = directory.parent == self.models.resolve()
        record = LastGood(
            bundle=directory.name if inside else str(directory),
            manifest_sha256=served.bundle.manifest_sha256 or "",
            libraries=library_versions(),
            compile_trees=self.compile_trees,
        )
        try:
            write_last_good(self.models, record)
        except OSError as exc:
            if self._unrecorded is None:  # once: MODELS may be read-only by design
                log.warning(
                    "cannot record the last good bundle in %s (%s): a worker that restarts "
                    "while MODELS/current is refused will not serve",
                    self.models / LAST_GOOD,
                    exc,
                )
            self._unrecorded = str(exc)

    def _refuse(self, target: str, reason: str) -> None:
        if self.refused is None or self.refused.target != target:
            log.error(
                "refused model bundle %s (still serving %s): %s",
                target,
                self.version or "nothing",
                reason,
            )
        self.refused = Refusal(target, reason, time.time())

    def pending_target(self) -> Path | None:
        """The bundle MODELS points at when it is neither current nor already refused."""
        try:
            target = resolve(self.models)
        except ModelError as exc:
            self._refuse(str(self.models), describe_failure(exc))
            return None
        if self._is_current(target):
            return None
        if self.refused is not None and self.refused.target == str(target):
            return None
        return target


class Watcher:
    """Polls MODELS/current and reloads when it points somewhere new."""

    def __init__(self, holder: ModelHolder, interval_s: float) -> None:
        self.holder = holder
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bundle-watcher", daemon=True)

    def start(self) -> Watcher:
        if self.interval_s > 0:
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            if self.holder.pending_target() is None:
                continue
            with contextlib.suppress(ModelError):  # recorded in holder.refused, logged
                self.holder.reload()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def seed_of(request_id: str) -> np.random.Generator:
    """The random stream of one request (reproducible from its logged request_id)."""
    return np.random.default_rng(int(request_id[:16], 16))
