"""`circlerank serve`: the HTTP API under uvicorn.

The feature snapshot is materialized here, once, before the workers start; each worker
memory-maps it. Settings reach the workers as CIRCLERANK_* variables, so flags given
here override the environment and `.env`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from circlerank.errors import ConfigError, ModelError
from circlerank.progress import step

from .checks import whole_number

log = logging.getLogger(__name__)

# flag -> settings field, for flags that override CIRCLERANK_* variables
OVERRIDES = {
    "data": "data",
    "models": "models",
    "snapshot": "snapshot",
    "event_log": "event_log",
    "online_store": "online_store",
    "experiments": "experiments",
    "strategies": "strategies",
    "as_of": "as_of",
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve ranked feeds and suggestions over HTTP",
        description=(
            "Start the API (OpenAPI docs at /docs). Needs CIRCLERANK_API_TOKENS (comma-"
            "separated bearer tokens); every other setting has a default, see README."
        ),
    )
    parser.add_argument("--data", metavar="DIR", help="contract tables (or CIRCLERANK_DATA)")
    parser.add_argument("--models", metavar="MODELS", help="bundles (or CIRCLERANK_MODELS)")
    parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    parser.add_argument("--port", type=whole_number, default=8000, help="default 8000")
    parser.add_argument("--workers", type=whole_number, default=1, help="processes (default 1)")
    parser.add_argument("--snapshot", metavar="DIR", help="feature snapshot directory")
    parser.add_argument("--event-log", metavar="URL", help="default sqlite:///events.db")
    parser.add_argument(
        "--online-store", metavar="URL", help="redis://host:port/db (default: snapshot files)"
    )
    parser.add_argument("--experiments", metavar="FILE", help="experiments TOML")
    parser.add_argument("--strategies", metavar="FILE", help="strategies TOML")
    parser.add_argument("--as-of", metavar="TS", help='ISO 8601, "now", default: end of data')
    parser.set_defaults(handler=run)


@contextlib.contextmanager
def prepared(args: argparse.Namespace) -> Iterator[dict[str, str]]:
    """Validated settings as CIRCLERANK_* variables for the workers, with the snapshot
    written, a shared cursor secret and (several workers) a shared metrics directory."""
    from serving.runtime import check_settings, feature_config
    from serving.settings import ENV_PREFIX, load_settings
    from serving.world import prepare
    from training.bundle import read_manifest, refuse_trained_after, resolve

    given = {field: getattr(args, flag) for flag, field in OVERRIDES.items() if getattr(args, flag)}
    flags = {field: f"--{flag.replace('_', '-')}" for flag, field in OVERRIDES.items()}
    settings = load_settings({f: flags[f] for f in given}, **given)
    _check_paths(settings.data, settings.as_of, given)
    check_settings(settings)
    if args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    with contextlib.ExitStack() as stack:
        snapshot = settings.snapshot
        if snapshot is None:
            snapshot = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crsnap-")))
        with step("reading the data and preparing the feature snapshot"):
            _, as_of, _ = prepare(
                settings.data,
                settings.as_of,
                snapshot,
                feature_config(settings),
                settings.online_store,
            )
        try:
            manifest = read_manifest(resolve(settings.models))
        except ModelError:
            manifest = {}  # no bundle yet: the server starts and waits for one (see /readyz)
        flag = "--as-of" if settings.as_of else "--as-of (default: the end of the data)"
        refuse_trained_after(manifest, as_of, flag)
        env = {f"{ENV_PREFIX}{k.upper()}": str(v) for k, v in given.items()}
        env[f"{ENV_PREFIX}SNAPSHOT"] = str(snapshot)
        env[f"{ENV_PREFIX}AS_OF"] = as_of.isoformat()
        # one secret for every worker (the setting's own, or one drawn now)
        env[f"{ENV_PREFIX}CURSOR_SECRET"] = settings.cursor_secret
        if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="crmetrics-"))
            env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        yield env


def _check_paths(data: Path, as_of: str | None, given: dict[str, str]) -> None:
    """Refuse a missing data directory or an unreadable --as-of before any work, naming
    the flag or the variable the value came from."""
    from features.contract import parse_as_of

    from .checks import data_dir

    def name(field: str) -> str:
        return f"--{field.replace('_', '-')}" if field in given else f"CIRCLERANK_{field.upper()}"

    data_dir(str(data), name("data"))
    if as_of is not None and as_of != "now":
        parse_as_of(as_of, name("as_of"))


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from circlerank.memory import limit_malloc_arenas

    with prepared(args) as env:
        os.environ.update(env)
        os.environ.update(limit_malloc_arenas())  # the workers read it as they start
        uvicorn.run(
            "serving.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning" if args.quiet else "info",
            access_log=False,
        )
    return 0
