"""The keep-alive cap: the n-th response on a connection closes it, in the middleware
and in a real `circlerank serve` process."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from starlette.types import Message, Receive, Scope, Send

from serving import keepalive
from serving.keepalive import KeepAliveLimit

from .conftest import ServedWorld
from .server_process import free_port, start_server


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"1")]})
    await send({"type": "http.response.body", "body": b"ok"})


def _closes(limit: KeepAliveLimit, client: tuple[str, int] | None) -> bool:
    """Whether one request from `client` gets `Connection: close` (and keeps the app's
    own headers)."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "client": client, "path": "/", "headers": []}
    asyncio.run(limit(scope, receive, send))
    headers = sent[0]["headers"]
    assert (b"x-app", b"1") in headers and sent[1]["body"] == b"ok"
    return keepalive.CLOSE in headers


def test_every_nth_response_of_a_connection_closes_it() -> None:
    limit = KeepAliveLimit(_ok, max_requests=3)
    a, b = ("127.0.0.1", 50001), ("127.0.0.1", 50002)
    seen = [(_closes(limit, a), _closes(limit, b) if i % 2 else None) for i in range(7)]
    assert [x for x, _ in seen] == [False, False, True, False, False, True, False]
    # the other connection counts its own requests: its 3rd is the 6th of the loop
    assert [y for _, y in seen if y is not None] == [False, False, True]


def test_no_cap_and_no_client_never_close() -> None:
    never = KeepAliveLimit(_ok, max_requests=0)
    assert not any(_closes(never, ("127.0.0.1", 50001)) for _ in range(50))
    capped = KeepAliveLimit(_ok, max_requests=1)
    assert not any(_closes(capped, None) for _ in range(5))
    assert _closes(capped, ("127.0.0.1", 50001))
    with pytest.raises(ValueError, match="max_requests"):
        KeepAliveLimit(_ok, max_requests=-1)


def test_connections_the_client_closed_are_forgotten_oldest_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keepalive, "MAX_TRACKED", 3)
    limit = KeepAliveLimit(_ok, max_requests=2)
    for port in range(1, 5):  # the 4th connection pushes the 1st out
        assert not _closes(limit, ("h", port))
    assert not _closes(limit, ("h", 1))  # counted afresh: its 1st request again
    assert _closes(limit, ("h", 3))  # still counted: its 2nd request


def _get(sock: socket.socket, path: str) -> bytes:
    """One keep-alive GET on the socket; the response head, lower-cased."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head.lower()


@pytest.mark.slow
def test_the_server_closes_a_connection_after_its_cap(
    served_world: ServedWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CIRCLERANK_KEEPALIVE_REQUESTS", "3")
    port = free_port()
    server = start_server(served_world, f"sqlite:///{tmp_path / 'events.db'}", port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            heads = [_get(sock, "/healthz") for _ in range(3)]
            assert [b"connection: close" in h for h in heads] == [False, False, True]
            assert all(h.startswith(b"http/1.1 200") for h in heads)
            assert sock.recv(1) == b""  # closed by the server
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            assert b"connection: close" not in _get(sock, "/healthz")  # a new count
    finally:
        server.terminate()
        server.wait(timeout=30)
