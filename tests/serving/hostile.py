"""Hand-made hostile requests for the API, and a sender that survives them.

Shared by tests/serving/test_hostile_inputs.py (against a real server in CI) and
benchmarks/fuzz.py (next to 10,000 requests generated from the OpenAPI schema). Each
request says the status it must get when one is certain (`expect`); every other one
only must not be a 5xx.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass, field

import httpx

MIB = 2**20
DEEP = 100_000  # levels of nesting in the deep-JSON bodies

# strings that break naive id handling: control characters (refused: 422), and
# non-ASCII, odd-but-printable and injection-looking ones (valid ids: served)
CONTROL = ["\x00", "\x00x", "x\x00", "a\x01b", "tab\tid", "line\nid", "\x1f", "\x7f", "\x85"]
ODD_BUT_VALID = [
    "é",
    "usuário-ñ",
    "用户",
    "😀" * 10,
    "\u202eevil",
    "\ufeffbom",
    "\uffff",
    "\u2028sep",
    "%00",
    "../../etc/passwd",
    "' OR 1=1 --",
    "<script>",
    "x" * 128,
]
TOO_LONG = ["x" * 129, "x" * 10_000]
MALFORMED_CURSORS = [
    "abc.é",
    "abc.\x00",
    "é.é",
    "\x00",
    ".",
    "..",
    "a",
    "a.b",
    "a.b.c",
    "====.====",
    "eyJ4IjoxfQ.abc",  # {"x":1}, unsigned
    "eyJ4IjoxfQ.eyJ4IjoxfQ",
    "%ff.%fe",
    "A" * 10_000 + "." + "B" * 100,
    "A" * 16_385,
    "😀.😀",
]

EVENT = {
    "event_id": "hostile-0",
    "ts": "2026-03-21T10:00:00Z",
    "user_id": "u00001",
    "surface": "feed",
    "item_id": "p000001",
    "action": "click",
}
ID_FIELDS = ["event_id", "user_id", "item_id", "request_id", "arm"]


@dataclass(frozen=True)
class Hostile:
    name: str
    method: str
    path: str
    params: dict[str, str] | None = None
    expect: int | None = None  # the status it must get, when one is certain
    _: KW_ONLY
    body: bytes | None = None
    chunked: bool = False  # sent without Content-Length, in 64 KiB chunks
    headers: dict[str, bytes] = field(default_factory=dict)


def hostile_requests(user: str, cursor: str | None) -> list[Hostile]:
    """Every hand-made hostile request; `user` is a known user and `cursor` a real
    next_cursor of a feed page for that user (None: the cursor tampering is left out)."""
    return [
        *_query_requests(user),
        *_cursor_requests(user, cursor),
        *_event_requests(),
        *_size_requests(),
        *_protocol_requests(user),
    ]


def _query_requests(user: str) -> Iterator[Hostile]:
    for path in ("/v1/feed", "/v1/circles/suggestions"):
        for value in CONTROL:
            yield Hostile(
                f"{path} user_id={_show(value)}", "GET", path, {"user_id": value}, expect=422
            )
            yield Hostile(
                f"{path} strategy={_show(value)}",
                "GET",
                path,
                {"user_id": user, "strategy": value},
                expect=422,
            )
        for value in ODD_BUT_VALID:
            yield Hostile(f"{path} user_id={_show(value)}", "GET", path, {"user_id": value}, 200)
            yield Hostile(
                f"{path} strategy={_show(value)}",
                "GET",
                path,
                {"user_id": user, "strategy": value},
                expect=422,  # long or unknown: no strategy has such a name
            )
        for value in [*TOO_LONG, ""]:
            yield Hostile(f"{path} user_id of {len(value)}", "GET", path, {"user_id": value}, 422)
        yield Hostile(
            f"{path} strategy of 10k", "GET", path, {"user_id": user, "strategy": "s" * 10_000}, 422
        )
        yield Hostile(
            f"{path} unknown strategy", "GET", path, {"user_id": user, "strategy": "nope"}, 422
        )
        for limit in ["0", "-1", "1e9", "NaN", "9" * 30, "", "1.5", "\x00", "١"]:
            yield Hostile(
                f"{path} limit={_show(limit)}", "GET", path, {"user_id": user, "limit": limit}, 422
            )
        yield Hostile(f"{path} no user_id", "GET", path, {}, expect=422)
        yield Hostile(f"{path} unknown parameter", "GET", path, {"user_id": user, "x\x00": "\x00"})
        yield Hostile(f"{path} raw %FF in the query", "GET", f"{path}?user_id=%FF%FE")
        yield Hostile(f"{path} doubled user_id", "GET", f"{path}?user_id=a&user_id=%00")


def _cursor_requests(user: str, cursor: str | None) -> Iterator[Hostile]:
    path = "/v1/feed"
    bad = {f"cursor={_show(value)}": value for value in MALFORMED_CURSORS}
    if cursor is not None:
        head, _, signature = cursor.rpartition(".")
        flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
        bad["real cursor, one signature character changed"] = f"{head}.{flipped}"
        bad["real cursor, signature é"] = f"{head}.é"
        bad["real cursor, payload changed"] = f"{head}x.{signature}"
        bad["real cursor, NUL appended"] = f"{head}.{signature}\x00"
    for name, value in bad.items():
        yield Hostile(name, "GET", path, {"user_id": user, "cursor": value}, 422)
    if cursor is not None:  # a good cursor, for another user or the other surface
        yield Hostile(
            "cursor of another user", "GET", path, {"user_id": f"{user}x", "cursor": cursor}, 422
        )
        yield Hostile(
            "cursor of the other surface",
            "GET",
            "/v1/circles/suggestions",
            {"user_id": user, "cursor": cursor},
            422,
        )


def _show(value: object) -> str:
    if isinstance(value, str) and len(value) > 24:
        return f"{value[:12]!r}... ({len(value):,} characters)"
    return repr(value)


def _events(*rows: object) -> bytes:
    return json.dumps(rows).encode()


def _event_requests() -> Iterator[Hostile]:
    for name in ID_FIELDS:
        for value in [*CONTROL, *TOO_LONG, ""]:
            row = {**EVENT, name: value}
            yield Hostile(
                f"event {name}={_show(value)}", "POST", "/v1/events", body=_events(row), expect=422
            )
        for value in ODD_BUT_VALID:
            row = {**EVENT, "event_id": f"hostile-{name}-{value[:40]}", name: value}
            yield Hostile(
                f"event {name}={_show(value)}", "POST", "/v1/events", body=_events(row), expect=202
            )
    good = {**EVENT, "event_id": "hostile-good-next-to-nul"}
    yield Hostile(
        "a good row next to a NUL row",
        "POST",
        "/v1/events",
        body=_events(good, {**EVENT, "user_id": "\x00"}),
        expect=202,
    )
    for name, value in [
        ("ts", "0001-01-01T00:00:00+00:01"),
        ("ts", "9999-12-31T23:59:59-23:59"),
        ("ts", "2026-02-30T00:00:00Z"),
        ("ts", "\x00"),
        ("ts", 1e20),
        ("ts", "now"),
        ("position", -1),
        ("position", 10**30),
        ("position", 1.5),
        ("propensity", 0),
        ("propensity", 1.0000001),
        ("propensity", "x"),
        ("surface", "\x00"),
        ("action", "\x00"),
        ("action", "join"),  # a circle_suggestions action on the feed
    ]:
        yield Hostile(
            f"event {name}={_show(value)}",
            "POST",
            "/v1/events",
            body=_events({**EVENT, name: value}),
            expect=422,
        )
    raw_bodies = {
        "lone surrogate value": rb'[{"event_id": "\ud800", "ts": "2026-03-21T10:00:00Z"}]',
        "lone surrogate key": rb'[{"\udfff": 1}]',
        "NUL key": rb'[{"\u0000": 1}]',
        "NaN propensity": json.dumps([{**EVENT, "propensity": float("nan")}]).encode(),
        "Infinity position": b'[{"position": Infinity}]',
        "5,000-digit integer": b"[" + b"9" * 5_000 + b"]",
        "1e999": b"[1e999]",
        "empty body": b"",
        "null": b"null",
        "an object": b"{}",
        "a string": b'"x"',
        "array of scalars": b"[1, null, true, []]",
        "truncated": b'[{"event_id": ',
        "not UTF-8": b"\xff\xfe[]",
        "UTF-16": json.dumps([EVENT]).encode("utf-16"),
        "UTF-8 BOM": b"\xef\xbb\xbf" + _events(EVENT),
        "duplicate keys": b'[{"event_id": "a", "event_id": "\\u0000"}]',
        "deep arrays": b"[" * DEEP,
        "deep arrays closed": b"[" * DEEP + b"]" * DEEP,
        "deep objects": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        "deep inside a row": b'[{"event_id": ' + b"[" * DEEP + b"]" * DEEP + b"}]",
        "33 levels": b"[" * 33 + b"]" * 33,
        "brackets inside strings": _events({**EVENT, "event_id": "[" * 120 + "{" * 8}),
        "1 MB event_id": _events({**EVENT, "event_id": "x" * MIB}),
    }
    for name, body in raw_bodies.items():
        yield Hostile(
            f"events: {name}", "POST", "/v1/events", body=body, expect=_RAW_EXPECT.get(name, 422)
        )
    yield Hostile(
        "events as text/plain",
        "POST",
        "/v1/events",
        body=_events({**EVENT, "event_id": "hostile-text-plain"}),
        headers={"Content-Type": b"text/plain"},
        expect=202,
    )
    yield Hostile(
        "events as multipart",
        "POST",
        "/v1/events",
        body=b"--x\r\n\r\n\x00\r\n--x--",
        headers={"Content-Type": b"multipart/form-data; boundary=x"},
        expect=422,
    )


# the raw bodies that are good (the others are refused: 422)
_RAW_EXPECT = {"brackets inside strings": 202}


def _size_requests() -> Iterator[Hostile]:
    five_mb = b"[" + b'"x",' * (5 * 10**6 // 4) + b'"x"]'
    yield Hostile("events: 5 MB body", "POST", "/v1/events", body=five_mb, expect=413)
    yield Hostile(
        "events: 5 MB chunked", "POST", "/v1/events", body=five_mb, chunked=True, expect=413
    )
    yield Hostile(
        "events: 5 MB of junk", "POST", "/v1/events", body=b"\x00" * 5 * 10**6, expect=413
    )
    yield Hostile(
        "feed with a 5 MB body", "GET", "/v1/feed", {"user_id": "u"}, body=five_mb, expect=413
    )
    rows = [{**EVENT, "event_id": f"hostile-many-{i}"} for i in range(10_001)]
    yield Hostile("events: 10,001 rows", "POST", "/v1/events", body=_events(*rows), expect=413)


def _protocol_requests(user: str) -> Iterator[Hostile]:
    feed = {"user_id": user}
    for method, path in [
        ("DELETE", "/v1/feed"),
        ("POST", "/v1/feed"),
        ("GET", "/v1/events"),
        ("PUT", "/v1/events"),
    ]:
        yield Hostile(f"{method} {path}", method, path, feed, expect=405)
    yield Hostile("unknown path", "GET", "/v1/feed/%00", feed, expect=404)
    yield Hostile("10 kB path", "GET", "/" + "x" * 10_000, expect=404)
    for name, value in [
        ("non-ASCII token", "Bearer é".encode()),
        ("10 kB token", b"Bearer " + b"x" * 10_000),
        ("Basic auth", b"Basic dXNlcjpwYXNz"),
        ("no token", b"Bearer"),
    ]:
        yield Hostile(
            f"feed with {name}",
            "GET",
            "/v1/feed",
            feed,
            headers={"Authorization": value},
            expect=401,
        )
    yield Hostile("reload with the API token", "POST", "/admin/reload")  # 401, or 403: off


def send(client: httpx.Client, request: Hostile) -> int:
    """The status the server answered; a refused connection or a dropped response
    raises httpx.HTTPError. The client's own Authorization is used unless the request
    brings one."""
    content: bytes | Iterator[bytes] | None = request.body
    if request.chunked and request.body is not None:
        content = _chunks(request.body)
    got = client.request(
        request.method,
        request.path,
        params=request.params,
        content=content,
        headers=request.headers,
    )
    return got.status_code


def _chunks(body: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]
