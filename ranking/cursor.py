"""Opaque, signed pagination cursors.

A cursor pins what the first page was ranked from: the user, the strategy, the instant
the ranking was as of, and a short digest of every item served so far. Later pages rank
again as of that same instant, so posts that arrive in between cannot enter or shift
the list, and skip what was served: no duplicates and no holes across a session, even
if the server's models or snapshot changed in between. The payload is JSON, signed with
HMAC-SHA256 under a server secret; the token is `payload.signature`, both base64url
without padding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, fields

import pandas as pd

from circlerank.errors import CursorError

DEFAULT_TTL_S = 3600.0


@dataclass(frozen=True)
class Cursor:
    user_id: str
    surface: str
    strategy: str
    as_of: str  # ISO 8601, UTC: the instant every page of the session is ranked as of
    served: tuple[str, ...]  # digests of the items already served, in order
    issued: float  # Unix seconds

    @property
    def pinned(self) -> pd.Timestamp:
        return pd.Timestamp(self.as_of)


_FIELDS = tuple(f.name for f in fields(Cursor))


def digest(item_id: str) -> str:
    """A short stable digest of an item id (48 bits: collisions among the few hundred
    items of a session are vanishingly rare, and would only skip one item)."""
    return hashlib.blake2b(item_id.encode(), digest_size=6).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorSigner:
    """Encodes and checks cursors with one secret; cursors older than `ttl_s` expire."""

    def __init__(self, secret: bytes | str, ttl_s: float = DEFAULT_TTL_S) -> None:
        secret = secret.encode() if isinstance(secret, str) else secret
        if len(secret) < 16:
            raise ValueError("a cursor secret needs at least 16 bytes")
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        self._secret = secret
        self.ttl_s = ttl_s

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._secret, payload, hashlib.sha256).digest())

    def encode(self, cursor: Cursor) -> str:
        # the fields by hand: asdict deep-copies every served digest
        values = {f: getattr(cursor, f) for f in _FIELDS}
        payload = json.dumps(values, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{self._sign(payload)}"

    def decode(self, token: str, now: float | None = None) -> Cursor:
        """The cursor in `token`; CursorError if it is malformed, tampered or expired."""
        try:
            body, signature = token.split(".")
            payload = _unb64(body)
        except (ValueError, TypeError) as exc:
            raise CursorError("malformed cursor: not a token a previous page returned") from exc
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise CursorError("invalid cursor: its signature does not match (tampered or forged)")
        try:
            fields = json.loads(payload)
            cursor = Cursor(**{**fields, "served": tuple(fields["served"])})
        except (ValueError, TypeError, KeyError) as exc:
            raise CursorError(f"malformed cursor payload: {exc}") from exc
        age = (time.time() if now is None else now) - cursor.issued
        if age > self.ttl_s:
            raise CursorError(
                f"expired cursor: issued {age:.0f} s ago, cursors live {self.ttl_s:.0f} s; "
                "start again from the first page"
            )
        return cursor
