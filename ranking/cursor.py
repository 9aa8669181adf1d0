"""Opaque, signed pagination cursors.

A cursor pins what the first page was ranked from: the user, the instant the ranking was
as of, a short digest of every item served so far, and the session's `Pins`: the
strategy and exploration every page is ranked with, and the arm and experiment the
caller logs them under. Later pages rank again as of that same instant, with the same
policy, so posts that arrive in between cannot enter or shift the list, and skip what
was served: no duplicates and no holes across a session, even if the server's models,
snapshot or experiments changed in between. The payload is JSON, signed with HMAC-SHA256
under a server secret; the token is `payload.signature`, both base64url without padding.

Decoding trusts nothing before the signature checks out, and not the payload's shape
after: every way a token can be wrong is a CursorError that says which.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from dataclasses import dataclass

import pandas as pd
from pydantic import BaseModel, ConfigDict, FiniteFloat, ValidationError, field_validator

from circlerank.errors import CursorError, plain_reason

from .explore import Exploration

DEFAULT_TTL_S = 3600.0
DIGEST_BYTES = 6
# a session of MAX_SERVED (ranking/pages.py) items, with long ids, stays well below this
MAX_CURSOR_CHARS = 16_384
_SIGNATURE_BYTES = hashlib.sha256().digest_size
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Pins:
    """What every page of a session is ranked with (strategy, exploration) and, for the
    caller, logged under (arm, experiment); a first page sets them, its cursor keeps
    them."""

    strategy: str
    exploration: Exploration | None = None
    arm: str | None = None
    experiment: str | None = None


@dataclass(frozen=True)
class Cursor:
    user_id: str
    surface: str
    pins: Pins
    as_of: str  # ISO 8601, UTC: the instant every page of the session is ranked as of
    served: tuple[str, ...]  # digests of the items already served, in order
    issued: float  # Unix seconds

    @property
    def strategy(self) -> str:
        return self.pins.strategy

    @property
    def pinned(self) -> pd.Timestamp:
        return pd.Timestamp(self.as_of)


def digest(item_id: str) -> str:
    """A short stable digest of an item id (48 bits: collisions among the few hundred
    items of a session are vanishingly rare, and would only skip one item)."""
    return hashlib.blake2b(item_id.encode(), digest_size=DIGEST_BYTES).hexdigest()


class _Payload(BaseModel):
    """A cursor's JSON: the served digests packed as one base64url string of raw
    6-byte digests (a list of hex strings would double the token's length)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    user_id: str
    surface: str
    strategy: str
    exploration: Exploration | None
    arm: str | None
    experiment: str | None
    as_of: str
    served: str
    issued: FiniteFloat

    @field_validator("as_of")
    @classmethod
    def _an_instant(cls, value: str) -> str:
        if pd.isna(pd.Timestamp(value)):  # a bad string raises ValueError itself
            raise ValueError("is not an instant")
        return value

    @field_validator("served")
    @classmethod
    def _whole_digests(cls, value: str) -> str:
        if len(_unb64(value)) % DIGEST_BYTES:
            raise ValueError(f"is not a whole number of {DIGEST_BYTES}-byte digests")
        return value

    @classmethod
    def of(cls, cursor: Cursor) -> _Payload:
        pins = cursor.pins
        packed = b"".join(bytes.fromhex(d) for d in cursor.served)
        return cls(
            user_id=cursor.user_id,
            surface=cursor.surface,
            strategy=pins.strategy,
            exploration=pins.exploration,
            arm=pins.arm,
            experiment=pins.experiment,
            as_of=cursor.as_of,
            served=_b64(packed),
            issued=cursor.issued,
        )

    def cursor(self) -> Cursor:
        packed = _unb64(self.served)
        served = tuple(
            packed[i : i + DIGEST_BYTES].hex() for i in range(0, len(packed), DIGEST_BYTES)
        )
        pins = Pins(self.strategy, self.exploration, self.arm, self.experiment)
        return Cursor(self.user_id, self.surface, pins, self.as_of, served, self.issued)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict base64url without padding: binascii.Error (a ValueError) for anything
    else, where the standard decoder would silently drop stray characters. It still
    ignores the last character's unused bits: see _signed_payload."""
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded, altchars=b"-_", validate=True)


def _field_errors(exc: ValidationError, most: int = 3) -> str:
    errors = exc.errors()
    said = [f"{'.'.join(map(str, e['loc'])) or 'payload'} {plain_reason(e)}" for e in errors[:most]]
    more = f"; and {len(errors) - most} more" if len(errors) > most else ""
    return "; ".join(said) + more


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

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def encode(self, cursor: Cursor) -> str:
        payload = _Payload.of(cursor).model_dump_json().encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def decode(self, token: object, now: float | None = None) -> Cursor:
        """The cursor in `token`; CursorError if it is malformed, tampered or expired."""
        payload = self._signed_payload(token)
        try:  # JSON mode: its parser bounds nesting and refuses bad UTF-8 and NaN
            cursor = _Payload.model_validate_json(payload).cursor()
        except ValidationError as exc:
            raise CursorError(f"malformed cursor payload: {_field_errors(exc)}") from None
        age = (time.time() if now is None else now) - cursor.issued
        if age > self.ttl_s:
            raise CursorError(
                f"expired cursor: issued {age:.0f} s ago, cursors live {self.ttl_s:.0f} s; "
                "start again from the first page"
            )
        return cursor

    def _signed_payload(self, token: object) -> bytes:
        """The payload bytes of a well-formed token whose signature is this secret's."""
        if not isinstance(token, str):
            raise CursorError(f"malformed cursor: a string is needed, not {type(token).__name__}")
        if len(token) > MAX_CURSOR_CHARS:
            raise CursorError(
                f"malformed cursor: {len(token)} characters, longer than any cursor this "
                f"server issues ({MAX_CURSOR_CHARS})"
            )
        # ASCII only: compare_digest raises TypeError on a non-ASCII str
        if not _TOKEN.fullmatch(token):
            raise CursorError(
                "malformed cursor: not a token a previous page returned "
                "(two base64url parts joined by '.')"
            )
        body, signature = token.split(".")
        try:
            payload, mac = _unb64(body), _unb64(signature)
        except binascii.Error as exc:
            raise CursorError(f"malformed cursor: not base64url ({exc})") from None
        if len(mac) != _SIGNATURE_BYTES:
            raise CursorError(
                f"malformed cursor: its signature has {len(mac)} bytes, not "
                f"{_SIGNATURE_BYTES} (truncated?)"
            )
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise CursorError("invalid cursor: its signature does not match (tampered or forged)")
        # one spelling per token: with the last character's unused bits set, a changed
        # signature character would still verify
        if _b64(payload) != body or _b64(mac) != signature:
            raise CursorError("malformed cursor: not canonical base64url (unused bits set)")
        return payload
