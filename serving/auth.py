"""Bearer-token checks: every /v1/ route needs an API token, /admin/ an admin token."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

bearer = HTTPBearer(auto_error=False, description="a token from CIRCLERANK_API_TOKENS")


def _matches(given: str, tokens: list[str]) -> bool:
    # compare against every token (no early exit), in constant time per token
    found = False
    for token in tokens:
        found |= hmac.compare_digest(given.encode(), token.encode())
    return found


def _check(credentials: HTTPAuthorizationCredentials | None, tokens: list[str]) -> None:
    if credentials is None or not _matches(credentials.credentials, tokens):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


def _tokens(request: Request, kind: str) -> list[str]:
    settings = request.app.state.runtime.settings
    tokens: list[str] = getattr(settings, kind)
    return tokens


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def require_api_token(request: Request, credentials: Credentials) -> None:
    _check(credentials, _tokens(request, "api_tokens"))


async def require_admin_token(request: Request, credentials: Credentials) -> None:
    tokens = _tokens(request, "admin_tokens")
    if not tokens:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "admin routes are off: set CIRCLERANK_ADMIN_TOKENS"
        )
    _check(credentials, tokens)
