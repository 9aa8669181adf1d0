"""Cursor tokens: every malformed one is a CursorError that says what is wrong (never
another exception), a session's pins survive the round trip, and a full session's
cursor fits the length the API accepts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from circlerank.errors import CursorError
from ranking.cursor import MAX_CURSOR_CHARS, Cursor, CursorSigner, Pins, digest
from ranking.explore import Exploration
from ranking.pages import MAX_SERVED

SECRET = "s" * 32
NOW = 1_000.0


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed(payload: bytes) -> str:
    """A token for `payload` under SECRET: what only a holder of the secret could make."""
    return f"{_b64(payload)}.{_b64(hmac.new(SECRET.encode(), payload, hashlib.sha256).digest())}"


def _cursor(served: int = 3) -> Cursor:
    pins = Pins("community", Exploration(epsilon=0.2, pool=12), "explore", "ranker")
    items = tuple(digest(f"post-{i}") for i in range(served))
    return Cursor("u1", "feed", pins, "2026-11-25T00:00:00+00:00", items, NOW)


def _payload() -> dict[str, object]:
    signer = CursorSigner(SECRET)
    body = signer.encode(_cursor()).split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_a_cursor_keeps_its_session_pins() -> None:
    signer = CursorSigner(SECRET)
    cursor = _cursor()
    assert signer.decode(signer.encode(cursor), now=NOW + 1) == cursor


def test_a_full_sessions_cursor_fits_the_length_the_api_accepts() -> None:
    signer = CursorSigner(SECRET)
    token = signer.encode(_cursor(served=MAX_SERVED))
    assert len(token) < MAX_CURSOR_CHARS
    assert len(signer.decode(token, now=NOW).served) == MAX_SERVED


def _tampered_tokens() -> dict[str, object]:
    good = CursorSigner(SECRET).encode(_cursor())
    body, signature = good.split(".")
    return {
        "non-ASCII signature": "abc.\u00e9",
        "non-ASCII body": f"\u00e9{body}.{signature}",
        "no dot": body,
        "three parts": f"{good}.x",
        "empty": "",
        "padding": f"{good}=",
        "a space": f"{body} .{signature}",
        "bad base64 length": f"AAAAA.{signature}",  # 5 characters cannot be base64
        "truncated signature": good[:-5],
        "truncated body": f"{body[:-7]}.{signature}",
        "oversized": "A" * (MAX_CURSOR_CHARS + 1) + "." + signature,
        "not a string": 12345,
        "other secret": CursorSigner("t" * 32).encode(_cursor()),
        "signature's unused bits set": f"{body}.{_with_unused_bits(signature)}",
    }


def _with_unused_bits(text: str) -> str:
    """The same bytes spelled another way: a 32-byte MAC's last base64 character
    carries 4 bits of it and 2 unused bits, which a lax decoder ignores."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(text[-1])
    assert last & 0b11 == 0  # canonical
    return text[:-1] + alphabet[last | 0b01]


@pytest.mark.parametrize(("case", "token"), _tampered_tokens().items())
def test_every_malformed_token_is_a_cursor_error(case: str, token: object) -> None:
    with pytest.raises(CursorError, match=r"(malformed|invalid) cursor") as raised:
        CursorSigner(SECRET).decode(token, now=NOW)
    assert len(str(raised.value)) > 30, case  # a message, not just a type


def _with(**changes: object) -> bytes:
    payload = _payload() | changes
    return json.dumps({k: v for k, v in payload.items() if v is not _DROP}).encode()


_DROP = object()


@pytest.mark.parametrize(
    ("payload", "names"),
    [
        (_with(user_id=7), "user_id"),
        (_with(served=["a1b2c3d4e5f6"]), "served"),
        (_with(served="QUJD"), "served is not a whole number"),
        (_with(served="!!!!"), "served"),
        (_with(issued="yesterday"), "issued"),
        (_with(as_of="not a time"), "as_of"),
        (_with(as_of=""), "as_of"),
        (_with(exploration={"kind": "thompson"}), "exploration"),
        (_with(arm=["control"]), "arm"),
        (_with(strategy=_DROP), "strategy is missing"),
        (_with(extra="x"), "extra"),
        (b'{"issued": NaN}', "payload"),
        (b"[1, 2]", "payload must be an object"),
        (b"\xff\xfe", "payload is not valid JSON"),
        (b"[" * 9000, "payload is not valid JSON"),
    ],
)
def test_a_signed_payload_of_the_wrong_shape_names_the_field(payload: bytes, names: str) -> None:
    with pytest.raises(CursorError, match="malformed cursor payload") as raised:
        CursorSigner(SECRET).decode(_signed(payload), now=NOW)
    assert names in str(raised.value)
