"""Server settings: environment variables prefixed `CIRCLERANK_` (or a `.env` file),
validated at start.

    CIRCLERANK_DATA=world               contract tables the server ranks from
    CIRCLERANK_MODELS=models            MODELS (follows MODELS/current) or one bundle
    CIRCLERANK_API_TOKENS=t1,t2         bearer tokens accepted on /v1/ routes
    CIRCLERANK_EVENT_LOG=sqlite:///events.db     or postgresql://user@host:5432/db
    CIRCLERANK_ONLINE_STORE=redis://host:6379/0  none = the snapshot's files
    CIRCLERANK_MAX_BODY_BYTES=4194304   request bodies above this get 413, unread
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from circlerank.errors import ConfigError, plain_reason

ENV_PREFIX = "CIRCLERANK_"
DEFAULT_MAX_BODY_BYTES = 4 * 2**20


# what to do about a missing or bad setting, for the ones a user has to set
HINTS = {
    "api_tokens": (
        "set the bearer tokens clients send on /v1/ routes, comma-separated, 8+ characters "
        f"each, e.g. export {ENV_PREFIX}API_TOKENS=$(python3 -c 'import secrets; "
        "print(secrets.token_urlsafe(24))')"
    ),
    "data": f"give the contract tables: serve --data DIR or export {ENV_PREFIX}DATA=demo/world",
    "models": (
        f"give the models directory: serve --models DIR or export {ENV_PREFIX}MODELS=demo/models"
    ),
    "event_log": "e.g. sqlite:///events.db or postgresql://user@host:5432/db",
}


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    data: Path
    models: Path
    api_tokens: Annotated[list[str], NoDecode] = Field(min_length=1)
    # may call POST /admin/reload; none configured = that route is off
    admin_tokens: Annotated[list[str], NoDecode] = []
    event_log: str = "sqlite:///events.db"
    # none = the snapshot's memory-mapped files; redis://host:port/db = a Redis server,
    # loaded from the snapshot at start unless it already holds that snapshot
    online_store: str | None = None
    # after an online store failure, the feed falls back (no features) for this long
    # before trying the store again
    store_retry_s: float = Field(default=1.0, gt=0)
    # where the feature snapshot lives; none = a temporary directory per process
    snapshot: Path | None = None
    # the instant the server ranks as of: ISO 8601, "now", or none = just after the
    # latest row in the data (a replayed or simulated world)
    as_of: str | None = None
    strategies: Path | None = None  # strategies TOML; none = the shipped one
    experiments: Path | None = None  # experiments TOML; none = no experiments
    # signs pagination cursors; workers of one server must share it
    cursor_secret: str = Field(default_factory=lambda: secrets.token_urlsafe(32), min_length=16)
    cursor_ttl_s: float = Field(default=3600.0, gt=0)
    default_limit: int = Field(default=20, ge=1)
    max_limit: int = Field(default=100, ge=1)
    max_events_per_batch: int = Field(default=10_000, ge=1)
    # /readyz answers 503 while more served impressions than this wait to be written,
    # or while writing them has failed for longer than ready_max_failing_s
    ready_max_backlog: int = Field(default=10_000, ge=1)
    ready_max_failing_s: float = Field(default=30.0, gt=0)
    # where impressions still unwritten at shutdown are spilled, to be written at the
    # next start; none = next to the SQLite event log (PostgreSQL: the working directory)
    spill_dir: Path | None = None
    # a request body above this many bytes is answered 413 before it is read or parsed;
    # 4 MiB holds 10,000 events of about 400 bytes (a full batch of typical rows)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024, le=2**30)
    reload_poll_s: float = Field(default=2.0, ge=0)  # 0 = no watching MODELS/current
    # responses per keep-alive connection before the server closes it, so that the
    # clients' connections keep spreading over the workers (serving/keepalive.py); 0 = no cap
    keepalive_requests: int = Field(default=20, ge=0)
    compile_trees: bool = True  # LightGBM models compiled to machine code (lleaves)

    @field_validator("online_store")
    @classmethod
    def _redis_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith("redis://"):
            raise ValueError(
                "must be a redis:// URL such as redis://localhost:6379/0 (or unset: the "
                "snapshot's files)"
            )
        return url

    @field_validator("api_tokens", "admin_tokens", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("api_tokens", "admin_tokens")
    @classmethod
    def _long_enough(cls, tokens: list[str]) -> list[str]:
        short = [t for t in tokens if len(t) < 8]
        if short:
            raise ValueError(f"has {len(short)} token(s) shorter than 8 characters")
        return tokens


def load_settings(flag_names: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from the environment (and `.env`), with keyword overrides on top; a
    ConfigError naming each bad variable (or, for a field in `flag_names`, the flag it
    was given by) and what to do about it otherwise."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        names = flag_names or {}
        problems = "; ".join(_problem(e, names) for e in exc.errors())
        raise ConfigError(f"server settings: {problems}") from None


def _problem(error: Any, flag_names: dict[str, str]) -> str:
    field = ".".join(str(p) for p in error["loc"])
    name = flag_names.get(field, f"{ENV_PREFIX}{field.upper()}")
    hint = HINTS.get(field)
    return f"{name} {plain_reason(error)}" + (f" ({hint})" if hint else "")
