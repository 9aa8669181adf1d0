"""POST /admin/reload: swap in the bundle MODELS/current points at now."""

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from circlerank.errors import ModelError

from ..runtime import Runtime

routes = APIRouter()


@routes.post("/reload", summary="load the bundle MODELS points at (refused if it cannot serve)")
async def reload(request: Request) -> dict[str, str]:
    rt: Runtime = request.app.state.runtime
    try:
        served = await run_in_threadpool(rt.holder.reload)
    except ModelError as exc:
        raise HTTPException(409, f"{exc}; still serving {rt.holder.version}") from None
    return {"model_version": served.version, "bundle": str(served.bundle.directory)}
