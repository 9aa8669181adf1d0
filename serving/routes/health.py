"""Probes and metrics: /healthz (process up), /readyz (able to serve), /metrics.

/readyz shows no credentials: every URL and error in it has its password masked."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from circlerank.redact import masked_text, masked_url

from ..metrics import CONTENT_TYPE
from ..runtime import Runtime
from ..schemas import Readiness

routes = APIRouter()


@routes.get("/healthz", summary="the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@routes.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request) -> Any:
    rt: Runtime = request.app.state.runtime
    served = rt.holder.current
    missing = rt.missing() + impression_log_problems(rt)
    refused = rt.holder.refused
    store = rt.world.store_status()
    body = Readiness(
        ready=not missing,
        missing=missing,
        model_version=served.version if served else None,
        bundle=str(served.bundle.directory) if served else None,
        as_of=rt.world.as_of.isoformat(),
        snapshot=str(rt.world.snapshot),
        event_log=masked_url(rt.event_log.url),
        event_log_error=_masked(rt.writer.last_error),
        online_store=masked_url(rt.world.online_store),
        online_store_available=store.available,
        online_store_error=_masked(store.error),
        impressions_pending=rt.writer.pending,
        reload_refused={"bundle": refused.target, "reason": refused.reason} if refused else None,
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


def impression_log_problems(rt: Runtime) -> list[str]:
    """Why the served impressions are not being stored well enough to take traffic:
    too many waiting (CIRCLERANK_READY_MAX_BACKLOG), or writes failing for too long
    (CIRCLERANK_READY_MAX_FAILING_S)."""
    settings, writer = rt.settings, rt.writer
    problems = []
    backlog = writer.pending
    if backlog > settings.ready_max_backlog:
        problems.append(
            f"event log: {backlog:,} served impressions waiting to be written, more than "
            f"CIRCLERANK_READY_MAX_BACKLOG={settings.ready_max_backlog:,}"
        )
    failing_s = writer.failing_for_s()
    if failing_s > settings.ready_max_failing_s:
        problems.append(
            f"event log: writes failing for {failing_s:.0f} s, more than "
            f"CIRCLERANK_READY_MAX_FAILING_S={settings.ready_max_failing_s:g} "
            f"({_masked(writer.last_error)})"
        )
    return problems


def _masked(text: str | None) -> str | None:
    return None if text is None else masked_text(text)


@routes.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    return Response(rt.metrics.exposition(), media_type=CONTENT_TYPE)
