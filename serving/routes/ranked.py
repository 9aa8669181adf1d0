"""GET /v1/feed and GET /v1/circles/suggestions: a ranked, explained page per call,
with every shown item logged as a served impression."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request, status

from ranking.pages import Page

from ..eventlog import LoggedEvent
from ..experiments import Assignment
from ..models import seed_of
from ..runtime import Runtime
from ..schemas import RankedItem, RankedResponse

REQUESTED_ARM = "requested"  # the caller named the strategy: no experiment applies

UserId = Annotated[
    str, Query(min_length=1, max_length=128, description="any id; unknown = cold start")
]
Cursor = Annotated[
    str | None, Query(max_length=16_384, description="next_cursor of the previous page")
]
Strategy = Annotated[
    str | None,
    Query(min_length=1, max_length=64, description="default: experiment or surface default"),
]


def serve_page(
    request: Request,
    surface: str,
    user_id: str,
    limit: int,
    cursor: str | None,
    strategy: str | None,
) -> RankedResponse:
    rt: Runtime = request.app.state.runtime
    served = rt.holder.current
    if served is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no model bundle loaded yet")
    if strategy is not None:
        assignment = Assignment(None, REQUESTED_ARM, strategy, None)
    else:
        assignment = rt.experiments.assign(surface, user_id, datetime.now(UTC))
    request_id = uuid.uuid4().hex
    page = served.pager.page(
        user_id,
        surface,
        limit,
        now=rt.world.as_of,
        cursor=cursor,
        # a cursor pins its session's strategy; an arm's is asked only on a first page
        strategy=strategy if cursor is not None else assignment.strategy,
        exploration=assignment.exploration,
        rng=seed_of(request_id),
    )
    request.state.strategy = page.strategy
    result = page.result
    rt.metrics.ranked(surface, result.candidates, result.removed, result.seconds)
    ranked = page.ranked
    scores = np.nan_to_num(ranked["score"].to_numpy(dtype=np.float64), posinf=1e300, neginf=-1e300)
    items = [
        RankedItem(
            item_id=str(item),
            rank=int(rank),
            score=float(score),
            propensity=float(p),
            reasons=list(reasons),
            explanation=str(text),
        )
        for item, rank, score, p, reasons, text in zip(
            ranked["item_id"].tolist(),
            ranked["rank"].tolist(),
            scores.tolist(),
            ranked["propensity"].tolist(),
            ranked["reasons"].tolist(),
            ranked["explanation"].tolist(),
            strict=True,
        )
    ]
    rt.writer.submit(
        _impressions(request_id, user_id, surface, items, assignment, page, served.version)
    )
    return RankedResponse(
        request_id=request_id,
        model_version=served.version,
        strategy=page.strategy,
        arm=assignment.arm,
        experiment=assignment.experiment,
        items=items,
        next_cursor=page.next_cursor,
    )


def _impressions(
    request_id: str,
    user_id: str,
    surface: str,
    items: list[RankedItem],
    assignment: Assignment,
    page: Page,
    version: str,
) -> list[LoggedEvent]:
    now = pd.Timestamp.now(tz="UTC")
    return [
        LoggedEvent(
            event_id=f"{request_id}-{item.rank}",
            ts=now,
            user_id=user_id,
            surface=surface,
            item_id=item.item_id,
            action="impression",
            origin="served",
            request_id=request_id,
            position=item.rank,
            propensity=item.propensity,
            arm=assignment.arm,
            experiment=assignment.experiment,
            strategy=page.strategy,
            model_version=version,
            score=item.score,
        )
        for item in items
    ]


# path -> (surface, summary)
ROUTES = {
    "/feed": ("feed", "a ranked page of circle posts"),
    "/circles/suggestions": ("circle_suggestions", "circles the user may join, best first"),
}


def router(default_limit: int, max_limit: int) -> APIRouter:
    routes = APIRouter()
    Limit = Annotated[int, Query(ge=1, le=max_limit, description="items on this page")]

    def endpoint(surface: str) -> Callable[..., RankedResponse]:
        def ranked(
            request: Request,
            user_id: UserId,
            limit: Limit = default_limit,
            cursor: Cursor = None,
            strategy: Strategy = None,
        ) -> RankedResponse:
            return serve_page(request, surface, user_id, limit, cursor, strategy)

        return ranked

    for path, (surface, summary) in ROUTES.items():
        routes.add_api_route(
            path,
            endpoint(surface),
            methods=["GET"],
            response_model=RankedResponse,
            summary=summary,
            name=surface,
        )
    return routes
