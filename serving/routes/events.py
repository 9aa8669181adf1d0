"""POST /v1/events: a batch of contract `events` rows, acknowledged once durable."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError

from ..eventlog import LoggedEvent
from ..runtime import Runtime
from ..schemas import EventIn, EventsAccepted, Rejected

CLOCK_SKEW = timedelta(minutes=5)  # a client's clock may run this far ahead of ours
# a batch is 2 levels deep (an array of flat objects): deeper JSON is refused before it
# is parsed, since the parser recurses once per level (RecursionError, not a 422)
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NESTING = np.zeros(256, dtype=np.int8)  # +1 for each byte that opens a level, -1 closes
_NESTING[[ord("["), ord("{")]] = 1
_NESTING[[ord("]"), ord("}")]] = -1


def json_depth(text: bytes) -> int:
    """How deeply arrays and objects nest in JSON text (brackets inside strings do not
    count); linear in the text, without parsing it."""
    outside_strings = _JSON_STRING.sub(b"", text)
    if not outside_strings:
        return 0
    levels = np.cumsum(_NESTING[np.frombuffer(outside_strings, dtype=np.uint8)], dtype=np.int64)
    return int(levels.max(initial=0))


def _parse_batch(body: bytes, max_rows: int) -> list[Any]:
    """The posted rows, or HTTPException 422 (not a UTF-8 JSON array of at most
    MAX_JSON_DEPTH levels) or 413 (more than max_rows rows)."""
    try:
        text = body.decode("utf-8")  # JSON between systems is UTF-8 (RFC 8259)
    except UnicodeDecodeError as exc:
        raise HTTPException(422, f"body is not UTF-8: {exc}") from None
    # exact on UTF-8: no byte of a multi-byte character is an ASCII bracket or quote
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:
        raise HTTPException(
            422, f"body nests {depth} levels deep; at most {MAX_JSON_DEPTH} are accepted"
        )
    try:
        rows = json.loads(text)
    except ValueError as exc:
        raise HTTPException(422, f"body is not JSON: {exc}") from None
    if not isinstance(rows, list):
        raise HTTPException(422, f"body must be a JSON array of events, got {type(rows).__name__}")
    if len(rows) > max_rows:
        raise HTTPException(413, f"{len(rows):,} events in one batch; at most {max_rows:,}")
    return rows


def _read_batch(body: bytes, max_rows: int) -> tuple[list[LoggedEvent], list[Rejected]]:
    """Parses and judges a posted batch: run in a worker thread, since 10,000 rows take
    long enough to hold up the ranking requests that share the event loop."""
    good, bad = _judge(_parse_batch(body, max_rows), datetime.now(UTC))
    return [_logged(event) for event in good], bad


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
            bad.append(
                Rejected(
                    index=index,
                    field="ts",
                    reason=(
                        f"ts is in the future (the server's time is {now}; send the time "
                        "the event happened)"
                    ),
                )
            )
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


async def _sent(answer: EventsAccepted, code: int) -> Response:
    """The answer serialized in a worker thread (it may list 10,000 rejected rows), and
    not validated again as a returned model would be."""
    body = await run_in_threadpool(answer.model_dump_json)
    return Response(body, status_code=code, media_type="application/json")


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
            "with no good row gets 422. An event_id already stored is skipped (idempotent). "
            "The body must be UTF-8 JSON nested at most "
            f"{MAX_JSON_DEPTH} levels deep (else 422); a body over CIRCLERANK_MAX_BODY_BYTES "
            "or a batch over CIRCLERANK_MAX_EVENTS_PER_BATCH rows gets 413."
        ),
        responses={
            422: {"model": EventsAccepted, "description": "no good row, or not a JSON array"},
            413: {"description": "body or batch too large"},
            503: {"description": "the event log cannot store the batch now; retry"},
        },
        openapi_extra={"requestBody": _body_schema(max_rows)},
    )
    async def post_events(request: Request) -> Any:
        rt: Runtime = request.app.state.runtime
        request_id = uuid.uuid4().hex
        good, bad = await run_in_threadpool(_read_batch, await request.body(), max_rows)
        if bad and not good:
            answer = EventsAccepted(request_id=request_id, accepted=0, duplicates=0, rejected=bad)
            return await _sent(answer, status.HTTP_422_UNPROCESSABLE_CONTENT)
        new = await run_in_threadpool(rt.event_log.append, good)
        rt.metrics.events.labels(origin="posted").inc(new)
        answer = EventsAccepted(
            request_id=request_id, accepted=new, duplicates=len(good) - new, rejected=bad
        )
        return await _sent(answer, status.HTTP_202_ACCEPTED)

    return routes
