"""The FastAPI app: routes, auth, error mapping, request metrics and lifecycle.

`create_app(settings)` builds an app; `app_from_env()` is the factory uvicorn workers
call (`circlerank serve` passes settings to them through CIRCLERANK_* variables).
"""

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from circlerank import __version__
from circlerank.errors import (
    CircleRankError,
    ConfigError,
    CursorError,
    EventLogError,
    FeatureStoreError,
    ModelError,
    plain_reason,
)

from .auth import require_admin_token, require_api_token
from .docs import add_offline_docs
from .keepalive import KeepAliveLimit
from .routes import admin, events, health, ranked
from .runtime import build_runtime
from .settings import Settings, load_settings

log = logging.getLogger(__name__)

# domain errors a request can meet, as HTTP: bad input is the caller's, the rest ours
STATUS = (
    (ConfigError, 422),  # e.g. an unknown strategy name
    (CursorError, 422),
    (ModelError, 503),
    (FeatureStoreError, 503),
    (EventLogError, 503),
)


class RequestMetrics:
    """Counts and times every request by route template, strategy and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            # a matched route's path (no path parameters here); one label for the rest
            path = scope["path"] if scope.get("route") is not None else "unmatched"
            strategy = scope.get("state", {}).get("strategy", "")
            metrics = scope["app"].state.runtime.metrics
            metrics.requests.labels(route=path, strategy=strategy, status=str(status)).inc()
            metrics.latency.labels(route=path, strategy=strategy).observe(
                time.perf_counter() - started
            )


class BodyLimit:
    """Refuses a request body over `max_bytes` with 413 before the route parses it: at
    once when its Content-Length says so (nothing is read), else as soon as the bytes
    received pass the limit (a chunked body is never held past it)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _detail(self) -> str:
        return f"request body over {self.max_bytes:,} bytes (CIRCLERANK_MAX_BODY_BYTES)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.max_bytes:
            await JSONResponse({"detail": self._detail()}, status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self._detail())
            return message

        await self.app(scope, counted, send)


def _declared_length(scope: Scope) -> int:
    """The request's Content-Length, 0 when absent (the server refuses a malformed one)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


class InternalErrors:
    """A 500 whose body is a request id only: the exception and its traceback go to the
    log under that id, never to the client (their text may name hosts or credentials)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started:  # too late for a response of our own: the server drops the connection
                raise
            await internal_error(scope.get("method", ""), scope["path"], exc)(scope, receive, send)


def internal_error(method: str, path: str, exc: BaseException) -> JSONResponse:
    """The 500 answer to an unexpected exception, logged with its traceback."""
    request_id = uuid.uuid4().hex
    log.error("request %s: %s %s failed", request_id, method, path, exc_info=exc)
    return JSONResponse(
        {"detail": "internal error (logged under this request_id)", "request_id": request_id},
        status_code=500,
    )


def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    for kind, code in STATUS:
        if isinstance(exc, kind):
            return JSONResponse({"detail": str(exc)}, status_code=code)
    return internal_error(request.method, request.url.path, exc)


def _bad_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 for a bad parameter or body, its shape kept (`loc`, `type`, `msg` per
    error) with each message in plain words naming the field: "user_id is missing",
    "limit must be less than or equal to 100 (got 101)"."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [
        {
            "loc": list(error["loc"]),
            "type": error["type"],
            "msg": f"{error['loc'][-1] if error['loc'] else 'body'} {plain_reason(error)}",
        }
        for error in errors
    ]
    return JSONResponse({"detail": detail}, status_code=422)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = build_runtime(settings)
        try:
            yield
        finally:
            app.state.runtime.close()

    app = FastAPI(
        title="circlerank",
        version=__version__,
        summary="Ranked circle feeds and circle suggestions, explained and logged.",
        lifespan=lifespan,
        docs_url=None,  # served by add_offline_docs, from local files
        redoc_url=None,  # ReDoc loads from a CDN too, and /docs covers it
    )
    # the last added is the outermost: metrics count the 413s and the 500s
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMetrics)
    app.add_middleware(InternalErrors)
    app.add_middleware(KeepAliveLimit, max_requests=settings.keepalive_requests)
    app.add_exception_handler(CircleRankError, _domain_error)
    app.add_exception_handler(RequestValidationError, _bad_request)
    v1: list[Any] = [Depends(require_api_token)]
    app.include_router(
        ranked.router(settings.default_limit, settings.max_limit), prefix="/v1", dependencies=v1
    )
    app.include_router(events.router(settings.max_events_per_batch), prefix="/v1", dependencies=v1)
    app.include_router(admin.routes, prefix="/admin", dependencies=[Depends(require_admin_token)])
    app.include_router(health.routes)
    add_offline_docs(app)
    return app


def app_from_env() -> FastAPI:
    return create_app(load_settings())
