"""Malformed cursors on the ranked routes: every one is a 422 whose message says what is
wrong, never a 500; a cursor continues only the session it was issued for."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from ranking.cursor import MAX_CURSOR_CHARS

from .conftest import AUTH, ServedWorld

SECRET = "a-known-cursor-secret-0123"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed(payload: bytes) -> str:
    """A token the server's signature accepts: as if its secret had leaked."""
    return f"{_b64(payload)}.{_b64(hmac.new(SECRET.encode(), payload, hashlib.sha256).digest())}"


def _payload(token: str) -> dict:
    body = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def _busy_user(client, served_world: ServedWorld) -> str:
    """A user with more than one page of feed."""
    for user in served_world.users[100:]:
        got = client.get("/v1/feed", params={"user_id": user, "limit": 3}, headers=AUTH)
        if got.json()["next_cursor"]:
            return user
    raise AssertionError("no user has two pages")


def _first_page(client, user: str, **params: str) -> dict:
    got = client.get("/v1/feed", params={"user_id": user, "limit": 3, **params}, headers=AUTH)
    assert got.status_code == 200 and got.json()["next_cursor"], got.text
    return got.json()


def test_every_malformed_cursor_is_a_422_with_a_message(api, served_world: ServedWorld) -> None:
    with api(cursor_secret=SECRET) as client:
        user = _busy_user(client, served_world)
        good = _first_page(client, user)["next_cursor"]
        body, signature = good.split(".")
        payload = _payload(good)
        cases = {
            "abc.\u00e9": "malformed cursor",  # was a TypeError in compare_digest: a 500
            f"{body}.{signature[:-1]}\u00e9": "malformed cursor",
            "garbage": "malformed cursor",
            f"AAAAA.{signature}": "not base64url",
            good[:-5]: "truncated",
            f"{body[:-4]}.{signature}": "signature does not match",
            f"{good}.{signature}": "malformed cursor",
            "A" * (MAX_CURSOR_CHARS + 1): "at most 16384 characters",
            _signed(json.dumps(payload | {"issued": "now"}).encode()): "issued",
            _signed(json.dumps(payload | {"served": [1, 2]}).encode()): "served",
            _signed(json.dumps(payload | {"as_of": "when?"}).encode()): "as_of",
            _signed(json.dumps(payload | {"arm": 3}).encode()): "arm",
            _signed(json.dumps({k: v for k, v in payload.items() if k != "user_id"}).encode()): (
                "user_id is missing"
            ),
            _signed(b"[" * 5000): "is not valid JSON",
        }
        answers = {
            token: client.get("/v1/feed", params={"user_id": user, "cursor": token}, headers=AUTH)
            for token in cases
        }
    for token, fragment in cases.items():
        got = answers[token]
        assert got.status_code == 422, (token[:40], got.status_code, got.text[:200])
        assert fragment in str(got.json()["detail"]), (token[:40], got.json())


def test_a_named_strategy_cannot_take_over_another_session(api, served_world: ServedWorld) -> None:
    """A cursor of an arm's (here: `default`) session refuses a `strategy`; a cursor of a
    requested session refuses another strategy and pages on with its own or none."""
    with api() as client:
        user = _busy_user(client, served_world)
        plain = _first_page(client, user)["next_cursor"]
        named = _first_page(client, user, strategy="chronological")["next_cursor"]

        def page(cursor: str, **params: str):
            return client.get(
                "/v1/feed", params={"user_id": user, "cursor": cursor, **params}, headers=AUTH
            )

        took_over = page(plain, strategy="community")
        switched = page(named, strategy="popularity")
        same = page(named, strategy="chronological")
        none = page(named)
    assert took_over.status_code == 422
    assert "arm 'default'" in took_over.json()["detail"]
    assert "without `strategy`" in took_over.json()["detail"]
    assert switched.status_code == 422 and "'chronological'" in switched.json()["detail"]
    for got in (same, none):
        assert got.status_code == 200
        assert (got.json()["arm"], got.json()["strategy"]) == ("requested", "chronological")
