"""POST /v1/events: a batch of contract `events` rows, acknowledged once durable."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ..eventlog import LoggedEvent
from ..runtime import Runtime
from ..schemas import EventIn, EventsAccepted, Rejected

CLOCK_SKEW = timedelta(minutes=5)  # a client's clock may run this far ahead of ours


def _judge(rows: list[Any], now: datetime) -> tuple[list[EventIn], list[Rejected]]:
    good, bad = [], []
    for index, row in enumerate(rows):
        try:
            event = EventIn.model_validate(row)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"]) or "row"
                bad.append(Rejected(index=index, field=field, reason=error["msg"]))
            continue
        if event.ts > now + CLOCK_SKEW:
            bad.append(Rejected(index=index, field="ts", reason=f"is in the future (now {now})"))
            continue
        good.append(event)
    return good, bad


def _logged(event: EventIn) -> LoggedEvent:
    return LoggedEvent(
        event_id=event.event_id,
        ts=pd.Timestamp(event.ts),
        user_id=event.user_id,
        surface=event.surface,
        item_id=event.item_id,
        action=event.action,
        origin="posted",
        request_id=event.request_id,
        position=event.position,
        propensity=event.propensity,
        arm=event.arm,
    )


def _body_schema(max_rows: int) -> dict[str, Any]:
    rows = {"type": "array", "items": EventIn.model_json_schema(), "maxItems": max_rows}
    return {"required": True, "content": {"application/json": {"schema": rows}}}


def router(max_rows: int) -> APIRouter:
    routes = APIRouter()

    @routes.post(
        "/events",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=EventsAccepted,
        summary="store a batch of contract events rows",
        description=(
            "Acknowledged (202) only once every good row is durable. Bad rows are reported "
            "by index with the field and reason while the good ones are stored; a batch "
            "with no good row gets 422. An event_id already stored is skipped (idempotent)."
        ),
        responses={422: {"model": EventsAccepted}, 413: {}, 503: {}},
        openapi_extra={"requestBody": _body_schema(max_rows)},
    )
    async def post_events(request: Request) -> Any:
        rt: Runtime = request.app.state.runtime
        request_id = uuid.uuid4().hex
        try:
            rows = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPException(422, f"body is not JSON: {exc}") from None
        if not isinstance(rows, list):
            raise HTTPException(
                422, f"body must be a JSON array of events, got {type(rows).__name__}"
            )
        if len(rows) > max_rows:
            raise HTTPException(413, f"{len(rows):,} events in one batch; at most {max_rows:,}")
        good, bad = _judge(rows, datetime.now(UTC))
        if bad and not good:
            answer = EventsAccepted(request_id=request_id, accepted=0, duplicates=0, rejected=bad)
            return JSONResponse(answer.model_dump(), status_code=422)
        new = await run_in_threadpool(rt.event_log.append, [_logged(e) for e in good])
        rt.metrics.events.labels(origin="posted").inc(new)
        return EventsAccepted(
            request_id=request_id, accepted=new, duplicates=len(good) - new, rejected=bad
        )

    return routes
