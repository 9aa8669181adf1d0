"""GET /v1/feed and GET /v1/circles/suggestions: a ranked, explained page per call,
with every shown item logged as a served impression."""

import math
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, NamedTuple

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from circlerank.errors import CursorError, StoreUnavailableError
from circlerank.frames import values_of
from ranking.cursor import MAX_CURSOR_CHARS, Cursor
from ranking.interleave import MAX_EXACT_PAGE, slot_probabilities, team_draft
from ranking.pages import Page, PageAsk

from ..eventlog import LoggedEvent
from ..experiments import FALLBACK_ARM, REQUESTED_ARM, Assignment
from ..models import Served, seed_of
from ..runtime import Runtime
from ..schemas import RankedItem, RankedResponse, StrategyParam, UserIdParam

UserId = UserIdParam  # the id policy: serving/schemas.py
CursorToken = Annotated[
    str | None,
    Query(max_length=MAX_CURSOR_CHARS, description="next_cursor of the previous page"),
]
Strategy = StrategyParam


async def serve_page(
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
    session = served.pager.resume(cursor, user_id, surface) if cursor is not None else None
    assignment = _assignment(rt, surface, user_id, strategy, session)
    request_id = uuid.uuid4().hex
    # only a randomized policy draws (seeding a generator costs more than a page's JSON)
    randomized = assignment.exploration is not None or assignment.interleave is not None
    rng = seed_of(request_id) if randomized else None
    try:
        items, label, next_cursor, teams = await _ranked(
            rt, served, surface, user_id, limit, session, assignment, rng
        )
    except StoreUnavailableError:
        fallback = rt.strategies.fallbacks.get(surface)
        if fallback is None:
            raise
        # the online store is down: this one page comes from the fallback strategy, past
        # what the session served, and is logged under its own arm so that experiment
        # analyses leave it out; its cursor carries on the session; /readyz says why
        rt.metrics.fallbacks.labels(surface=surface).inc()
        items, label, next_cursor, teams = await _ranked(
            rt, served, surface, user_id, limit, session, assignment, rng, stand_in=fallback
        )
        assignment = Assignment(None, FALLBACK_ARM, fallback, None)
    request.state.strategy = label
    rt.writer.submit(
        _impressions(request_id, user_id, surface, items, assignment, teams, served.version)
    )
    return RankedResponse(
        request_id=request_id,
        model_version=served.version,
        strategy=label,
        arm=assignment.arm,
        experiment=assignment.experiment,
        items=items,
        next_cursor=next_cursor,
    )


def _assignment(
    rt: Runtime, surface: str, user_id: str, strategy: str | None, session: Cursor | None
) -> Assignment:
    """What the page is ranked with and logged under: a cursor's session keeps what its
    first page was given (even if the experiments changed since); a named strategy is
    in no experiment; otherwise the user's arm now."""
    if session is not None:
        return _resumed(session, strategy)
    if strategy is not None:
        return Assignment(None, REQUESTED_ARM, strategy, None)
    return rt.experiments.assign(surface, user_id, datetime.now(UTC))


def _resumed(session: Cursor, strategy: str | None) -> Assignment:
    """The assignment a cursor pins; CursorError if the request names a strategy the
    session was not asked for (a page of an arm's session is never logged as requested,
    nor a requested page under an arm)."""
    pins = session.pins
    if pins.arm is None:
        raise CursorError("this cursor pins no arm: not one this API issued; ask the first page")
    if strategy is not None and (pins.arm, pins.strategy) != (REQUESTED_ARM, strategy):
        of = f" of experiment {pins.experiment!r}" if pins.experiment else ""
        raise CursorError(
            f"this cursor pages arm {pins.arm!r}{of} with strategy {pins.strategy!r}, not the "
            f"requested strategy {strategy!r}: page on without `strategy`, or ask the first "
            "page with it"
        )
    return Assignment(pins.experiment, pins.arm, pins.strategy, pins.exploration)


async def _ranked(
    rt: Runtime,
    served: Served,
    surface: str,
    user_id: str,
    limit: int,
    session: Cursor | None,
    assignment: Assignment,
    rng: np.random.Generator | None,
    stand_in: str | None = None,
) -> tuple[list[RankedItem], str, str | None, list[str]]:
    """The page's items, its strategy label, the next cursor and the strategy that
    placed each item. A `stand_in` strategy ranks the page instead of the assignment's,
    without its exploration; the next cursor still pins the assignment."""
    if assignment.interleave is not None:  # a single page: an interleaving arm has no cursor
        if stand_in is None:
            assert rng is not None  # seeded for every randomized policy
            items, teams = await _interleaved(
                rt, served, surface, user_id, limit, assignment.interleave, rng
            )
            return items, "|".join(assignment.interleave), None, teams
        asked = served.pager.ask(user_id, surface, limit, rt.world.as_of, strategy=stand_in)
        items, label, _, teams = await _ranked_page(rt, served, surface, asked)
        return items, label, None, teams
    asked = served.pager.ask(
        user_id,
        surface,
        limit,
        now=rt.world.as_of,
        cursor=session,
        strategy=assignment.strategy,
        exploration=assignment.exploration,
        arm=assignment.arm,
        experiment=assignment.experiment,
        stand_in=stand_in,
        rng=rng,
    )
    return await _ranked_page(rt, served, surface, asked)


async def _ranked_page(
    rt: Runtime, served: Served, surface: str, asked: PageAsk
) -> tuple[list[RankedItem], str, str | None, list[str]]:
    page = await _page(rt, served, asked)
    _count(rt, surface, page)
    items = [_item(row) for row in _rows(page.ranked)]
    return items, page.strategy, page.next_cursor, [page.strategy] * len(items)


async def _page(rt: Runtime, served: Served, asked: PageAsk) -> Page:
    """The page asked, ranked on this event loop together with the requests like it
    that arrived meanwhile (ranking/combine.py)."""
    return served.pager.finish(asked, await rt.combiner.run(*asked.run))


def _count(rt: Runtime, surface: str, page: Page) -> None:
    result = page.result
    rt.metrics.ranked(surface, result.candidates, result.removed, result.seconds, result.users)


class _Row(NamedTuple):
    item_id: Any
    rank: int
    score: float
    propensity: float
    reasons: list[str]
    explanation: str


def _rows(page: pd.DataFrame) -> list[_Row]:
    """The page's rows as tuples (DataFrame.itertuples defines a new tuple class per
    call, which costs more than the rest of turning a page into items)."""
    columns = (values_of(page, name).tolist() for name in _Row._fields)
    return [_Row(*values) for values in zip(*columns, strict=True)]


def _item(row: _Row, rank: int | None = None, propensity: float | None = None) -> RankedItem:
    score = float(row.score)
    if not math.isfinite(score):  # JSON has no NaN or infinity
        score = 0.0 if math.isnan(score) else math.copysign(1e300, score)
    return RankedItem(
        item_id=str(row.item_id),
        rank=int(row.rank if rank is None else rank),
        score=score,
        propensity=float(row.propensity if propensity is None else propensity),
        reasons=list(row.reasons),
        explanation=str(row.explanation),
    )


async def _interleaved(
    rt: Runtime,
    served: Served,
    surface: str,
    user_id: str,
    limit: int,
    pair: tuple[str, str],
    rng: np.random.Generator,
) -> tuple[list[RankedItem], list[str]]:
    """A team-draft page of the two strategies' pages (at most MAX_EXACT_PAGE items, so
    that every propensity is exact), and the strategy that placed each item."""
    k = min(limit, MAX_EXACT_PAGE)
    pages = [
        await _page(rt, served, served.pager.ask(user_id, surface, k, rt.world.as_of, strategy=s))
        for s in pair
    ]
    for page in pages:
        _count(rt, surface, page)
    rows = [_rows(p.ranked) for p in pages]
    lists = [[r.item_id for r in side] for side in rows]
    chosen, team = team_draft(lists[0], lists[1], k, rng)
    probability = slot_probabilities(lists[0], lists[1], k)
    items = []
    for slot, (item, side) in enumerate(zip(chosen, team, strict=True)):
        row = rows[side][lists[side].index(item)]
        items.append(_item(row, rank=slot, propensity=probability[(item, slot)]))
    return items, [pair[side] for side in team]


def _impressions(
    request_id: str,
    user_id: str,
    surface: str,
    items: list[RankedItem],
    assignment: Assignment,
    strategies: list[str],
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
            strategy=strategy,
            model_version=version,
            score=item.score,
        )
        for item, strategy in zip(items, strategies, strict=True)
    ]


# path -> (surface, summary)
ROUTES = {
    "/feed": ("feed", "a ranked page of circle posts"),
    "/circles/suggestions": ("circle_suggestions", "circles the user may join, best first"),
}


def router(default_limit: int, max_limit: int) -> APIRouter:
    routes = APIRouter()
    Limit = Annotated[int, Query(ge=1, le=max_limit, description="items on this page")]

    def endpoint(surface: str) -> Callable[..., Awaitable[Response]]:
        async def ranked(
            request: Request,
            user_id: UserId,
            limit: Limit = default_limit,
            cursor: CursorToken = None,
            strategy: Strategy = None,
        ) -> Response:
            page = await serve_page(request, surface, user_id, limit, cursor, strategy)
            # serialized here: returned as a model, FastAPI would validate it again
            return Response(page.model_dump_json(), media_type="application/json")

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
