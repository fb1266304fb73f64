"""Open311 errors: the spec's list of `{code, description}`, never problem+json.

The app's exception handlers (api.http.problems) answer problem+json for the whole
app. Open311's routes use `Open311Route`, whose handler catches what an endpoint and
its dependencies raise and answers the spec's error document instead, in the format
the path asks for (`.xml`, else JSON). The spec's statuses: 404 for what does not
exist, 403 for a missing or invalid api_key, 400 for anything else a client sent;
gridledger adds 503 (with Retry-After) when the database or the projections cannot
answer yet, 413 and 429 as the rest of the API does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import psycopg
from eventsourcing.persistence import DataError as StoreDataError
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from psycopg_pool import PoolTimeout

from api.http.auth import AuthenticationError
from api.http.limits import TooManyRequestsError
from api.http.open311.render import Error, Format, render_errors
from api.http.problems import (
    POSITION_HEADER,
    RETRY_AFTER_SECONDS,
    BeyondHeadError,
    ForbiddenError,
    NotCaughtUpError,
)
from api.http.routing import OneHopRoute
from domain.errors import DomainError, NotFoundError

log = logging.getLogger(__name__)


class Open311Error(Exception):
    """Raised when an Open311 request cannot be answered: the HTTP status to answer and
    the `{code, description}` of the error document (the code is the status unless a
    more specific one is given)."""

    def __init__(
        self,
        status: int,
        description: str,
        code: int | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.code = status if code is None else code
        self.headers = headers or {}


UNAVAILABLE = {"Retry-After": RETRY_AFTER_SECONDS}


def translated(error: Exception) -> Open311Error | None:
    """`error` as the Open311 error to answer (None: not one a client caused or the
    service can name; it goes on to the app's handlers)."""
    if isinstance(error, Open311Error):
        return error
    if isinstance(error, RequestValidationError):
        return Open311Error(400, _validation(error))
    if isinstance(error, AuthenticationError | ForbiddenError):
        return Open311Error(403, str(error))
    if isinstance(error, NotFoundError):
        return Open311Error(404, f"{error.message}")
    if isinstance(error, DomainError):
        return Open311Error(400, f"{error.message} ({error.rule})")
    if isinstance(error, TooManyRequestsError):
        return Open311Error(429, str(error), headers={"Retry-After": str(error.retry_after)})
    if isinstance(error, NotCaughtUpError | BeyondHeadError):
        return Open311Error(503, str(error), headers=UNAVAILABLE)
    if isinstance(error, psycopg.DataError | StoreDataError):
        # A value the database cannot take (a NUL in a text): the client's, not ours.
        return Open311Error(400, "a value in the request cannot be stored or searched")
    if isinstance(error, psycopg.errors.UndefinedTable):
        log.warning("query table missing: %s", error)
        return Open311Error(503, "the query tables are not set up yet", headers=UNAVAILABLE)
    if isinstance(
        error,
        psycopg.OperationalError | PoolTimeout | StoreOperationalError | StoreInterfaceError,
    ):
        log.warning("database unavailable: %s", error)
        return Open311Error(503, "the database is not available; try again", headers=UNAVAILABLE)
    return None


def _validation(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("path", "query"))
        if where == "fmt":
            parts.append("the format is json or xml (services.json, services.xml)")
        else:
            parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is invalid"


def requested_format(request: Request) -> Format:
    """The format an answer takes: the path's `.xml` suffix, else JSON."""
    return path_format(request.url.path)


def path_format(path: str) -> Format:
    return Format.XML if path.endswith(".xml") else Format.JSON


def too_large(path: str, limit: int) -> tuple[bytes, str]:
    """The 413 of a body over `limit` bytes under /open311 (for `limits.BodyLimit`,
    which answers before any route runs), as the spec's error document."""
    error = Error(413, f"request bodies are limited to {limit} bytes")
    rendered = render_errors([error], path_format(path))
    return rendered.body, rendered.media_type


def error_response(request: Request, error: Open311Error) -> Response:
    rendered = render_errors([Error(error.code, error.description)], requested_format(request))
    response = Response(
        rendered.body,
        status_code=error.status,
        media_type=rendered.media_type,
        headers=error.headers,
    )
    position = getattr(request.state, "projection_position", None)
    if position is not None:
        response.headers[POSITION_HEADER] = position
    return response


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class Open311Route(OneHopRoute):
    """A route whose errors are Open311 error documents (see the module's docstring)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as error:
                found = translated(error)
                if found is None:
                    raise
                return error_response(request, found)

        return answer
