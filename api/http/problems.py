"""Every error answers an RFC 9457 `application/problem+json` document.

    422 bad input (validation, a value the domain refuses, an idempotency key reused)
    404 an unknown id or code            409 a rule of the domain refuses, or a conflict
    401 no or bad token   403 not allowed   503 database or projection not available
    413 body too large    429 a token's rate of commands or waits used up (Retry-After)

Nothing a client sends may cause a 500: values are bounded by the request schemas, and
the database's own refusal of a value (a `DataError`) is a 422 as a last guard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg
from eventsourcing.persistence import DataError as StoreDataError
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from api.http.auth import AuthenticationError, read_token
from api.http.limits import TooManyRequestsError
from api.http.permissions import ForbiddenError, refuse_role
from domain.errors import (
    ConcurrencyConflictError,
    DomainError,
    IdempotencyKeyReusedError,
    InvalidValueError,
    NotFoundError,
)
from projections.views.reading import BadCursorError

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
POSITION_HEADER = "X-Projection-Position"
RETRY_AFTER_SECONDS = "1"


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(default_factory=list, description="Where: body, query, path.")
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=["/problems/rule-violation"])
    title: str = Field(examples=["A rule of the domain refuses the command"])
    status: int = Field(examples=[409])
    detail: str = Field(examples=["cannot close a ticket that is dispatched (ticket.transition)"])
    rule: str | None = Field(default=None, examples=["ticket.transition"])
    errors: list[ErrorItem] | None = None


class NotCaughtUpError(Exception):
    """Raised when the projections did not reach `min_position` within `wait_ms` (503)."""


class BeyondHeadError(Exception):
    """Raised when `min_position` lies beyond the log's head: no wait could reach it (503)."""


def _problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    rule: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"/problems/{slug}",
        title=title,
        status=status,
        detail=detail,
        rule=rule,
        errors=[ErrorItem(**e) for e in errors] if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def _unavailable(detail: str) -> JSONResponse:
    return _problem_response(
        503,
        "unavailable",
        "Service unavailable",
        detail,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


def _validation_items(error: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())],
         "msg": str(e.get("msg", "")), "type": str(e.get("type", "value_error"))}
        for e in error.errors()
    ]  # fmt: skip


def _domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    detail = f"{error.message} ({error.rule})"
    if isinstance(error, NotFoundError):
        return _problem_response(404, "not-found", "Not found", detail, rule=error.rule)
    if isinstance(error, InvalidValueError | IdempotencyKeyReusedError):
        item = {"loc": ["body"], "msg": error.message, "type": error.rule}
        return _problem_response(
            422, "invalid-value", "Invalid value", detail, rule=error.rule, errors=[item]
        )
    if isinstance(error, ConcurrencyConflictError):
        return _problem_response(409, "conflict", "Concurrent change", detail, rule=error.rule)
    return _problem_response(
        409, "rule-violation", "A rule of the domain refuses the command", detail, rule=error.rule
    )


def _unauthenticated_because(request: Request) -> str | None:
    """Why a request to a route that needs a token is not authenticated (None: it is,
    or the route needs none)."""
    if not request.url.path.startswith("/v1/"):
        return None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return "a bearer token is required"
    try:
        state = request.app.state
        read_token(state.secret, token.strip(), policy=state.token_policy)
    except AuthenticationError as failure:
        return str(failure)
    return None


def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # FastAPI parses a JSON body before it authenticates: without a valid token the
    # answer is 401, whatever the body, and says nothing about what it should hold.
    unauthenticated = _unauthenticated_because(request)
    if unauthenticated is not None:
        return _unauthenticated(request, AuthenticationError(unauthenticated))
    # A body that is no JSON fails before any dependency runs, so before the role check
    # of api.http.deps.get_caller: the same check here, so the answer is the same 403.
    token = request.headers.get("authorization", "").partition(" ")[2]
    state = request.app.state
    try:
        principal = read_token(state.secret, token.strip(), policy=state.token_policy)
        refuse_role(principal, getattr(request.scope.get("route"), "name", ""))
    except AuthenticationError:
        pass  # (a route that needs no token)
    except ForbiddenError as refusal:
        return _forbidden(request, refusal)
    items = _validation_items(error)
    detail = "; ".join(f"{'.'.join(map(str, i['loc']))}: {i['msg']}" for i in items[:5])
    return _problem_response(422, "validation", "Invalid request", detail, errors=items)


def _http_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    return _problem_response(
        error.status_code,
        "http",
        str(error.detail),
        str(error.detail),
        headers=dict(error.headers) if error.headers else None,
    )


def _unauthenticated(_: Request, error: Exception) -> JSONResponse:
    return _problem_response(
        401,
        "unauthenticated",
        "Authentication required",
        str(error),
        headers={"WWW-Authenticate": "Bearer"},
    )


def _forbidden(_: Request, error: Exception) -> JSONResponse:
    return _problem_response(403, "forbidden", "Not allowed", str(error))


def _not_caught_up(_: Request, error: Exception) -> JSONResponse:
    return _unavailable(str(error))


def _too_many(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TooManyRequestsError)
    return _problem_response(
        429,
        "too-many-requests",
        "Too many requests",
        str(error),
        headers={"Retry-After": str(error.retry_after)},
    )


def _bad_cursor(_: Request, error: Exception) -> JSONResponse:
    item = {"loc": ["query", "cursor"], "msg": str(error), "type": "cursor"}
    return _problem_response(422, "validation", "Invalid request", str(error), errors=[item])


def _database_value(_: Request, error: Exception) -> JSONResponse:
    log.info("the database refused a value: %s", error)
    item = {"loc": ["body"], "msg": "the database cannot store this value", "type": "data"}
    return _problem_response(
        422, "invalid-value", "Invalid value", "a value cannot be stored", errors=[item]
    )


def _database_down(_: Request, error: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", error)
    return _unavailable("the database is not available; try again")


def _undefined_table(_: Request, error: Exception) -> JSONResponse:
    log.warning("query table missing: %s", error)
    return _unavailable("the query tables are not set up yet (run the projections)")


Handler = Callable[[Request, Exception], JSONResponse]


def _with_position(handler: Handler) -> Handler:
    """`handler`, whose answer to a query that had read its position (a 404 of a query)
    carries `X-Projection-Position` like every other query answer."""

    def answer(request: Request, error: Exception) -> JSONResponse:
        response = handler(request, error)
        position = getattr(request.state, "projection_position", None)
        if position is not None:
            response.headers[POSITION_HEADER] = position
        return response

    return answer


HANDLERS: list[tuple[type[Exception], Handler]] = [
    (DomainError, _domain_error),
    (RequestValidationError, _validation_error),
    (HTTPException, _http_error),
    (AuthenticationError, _unauthenticated),
    (ForbiddenError, _forbidden),
    (NotCaughtUpError, _not_caught_up),
    (BeyondHeadError, _not_caught_up),
    (TooManyRequestsError, _too_many),
    (BadCursorError, _bad_cursor),
    (psycopg.errors.UndefinedTable, _undefined_table),
    (psycopg.DataError, _database_value),
    (psycopg.OperationalError, _database_down),
    (PoolTimeout, _database_down),
    (StoreDataError, _database_value),
    (StoreOperationalError, _database_down),
    (StoreInterfaceError, _database_down),
]


def install(app: FastAPI) -> None:
    """Answer every error of `app` as problem+json."""
    for error, handler in HANDLERS:
        app.add_exception_handler(error, _with_position(handler))


def _documented(status: int, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "model": Problem,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


Responses = dict[int | str, dict[str, Any]]
"""A route's `responses=`: its documented answers by status."""

COMMON: Responses = {
    401: _documented(401, "No token, or an invalid or expired one"),
    403: _documented(403, "The role or scope does not allow it"),
    422: _documented(422, "Invalid request"),
    429: _documented(429, "This token's rate is used up; Retry-After says when to retry"),
    503: _documented(503, "Database or projections not available"),
}
COMMAND: Responses = {
    **COMMON,
    404: _documented(404, "Unknown id or code"),
    409: _documented(409, "A rule of the domain refuses the command, or a concurrent change"),
    413: _documented(413, "The request body is larger than the server accepts"),
}
QUERY: Responses = {**COMMON, 404: _documented(404, "Unknown id or code")}
