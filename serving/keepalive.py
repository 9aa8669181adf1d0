"""A cap on requests per keep-alive connection, so that several worker processes share
the load.

Workers share one listening socket, and a connection stays with the worker that
accepted it. A client's pool of keep-alive connections is split between the workers
by chance, once, when it opens them: with 64 connections, 36 on one worker and 28 on
the other is usual, and that worker then gets 56% of the requests for as long as the
connections live. Closing each connection after `max_requests` responses (as nginx's
`keepalive_requests` does) makes the client connect again, and a new connection goes to
a worker that is waiting on the socket, which is one not busy ranking. In 11 paired runs
at 200 requests/s (README, "Under load"), the busier worker did a median 52.4% of the
two workers' work without the cap (up to 59%) and 50.6% with it (up to 52.5%).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CLOSE = (b"connection", b"close")
# connections the client closed itself leave their counts behind; past this many, the
# oldest are forgotten (a forgotten connection is only closed a little later)
MAX_TRACKED = 4096


class KeepAliveLimit:
    """ASGI middleware: the `max_requests`-th response on a connection asks the server
    to close it (`Connection: close`); 0 = no limit."""

    def __init__(self, app: ASGIApp, max_requests: int) -> None:
        if max_requests < 0:
            raise ValueError(f"max_requests must be 0 (no limit) or more, got {max_requests}")
        self.app = app
        self.max_requests = max_requests
        self._served: dict[tuple[str, int], int] = {}  # requests so far, per connection

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or not self.max_requests or client is None:
            await self.app(scope, receive, send)
            return
        peer = (client[0], client[1])
        served = self._served.pop(peer, 0) + 1
        if served < self.max_requests:
            self._served[peer] = served  # re-inserted: the dict stays oldest first
            if len(self._served) > MAX_TRACKED:
                del self._served[next(iter(self._served))]
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), CLOSE]}
            await send(message)

        await self.app(scope, receive, closing)
