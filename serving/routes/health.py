"""Probes and metrics: /healthz (process up), /readyz (able to serve), /metrics."""

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

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
    missing = rt.missing()
    refused = rt.holder.refused
    store = rt.world.store_status()
    body = Readiness(
        ready=not missing,
        missing=missing,
        model_version=served.version if served else None,
        bundle=str(served.bundle.directory) if served else None,
        as_of=rt.world.as_of.isoformat(),
        snapshot=str(rt.world.snapshot),
        event_log=rt.event_log.url,
        event_log_error=rt.writer.last_error,
        online_store=rt.world.online_store,
        online_store_available=store.available,
        online_store_error=store.error,
        impressions_pending=rt.writer.pending,
        reload_refused={"bundle": refused.target, "reason": refused.reason} if refused else None,
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@routes.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    return Response(rt.metrics.exposition(), media_type=CONTENT_TYPE)
