"""Queries: read-your-writes, the projection position header, pages' parameters.

Every query names the projections whose tables it reads. With `min_position=N` it
first waits (up to `wait_ms`) until each of them has applied the log up to N, else
answers 503 with Retry-After. Every answer carries `X-Projection-Position`: the least
position of those projections, read before the rows, so the rows reflect at least it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from psycopg_pool import ConnectionPool, PoolTimeout
from pydantic import BaseModel

from api.http.auth import Principal, authenticate
from api.http.deps import answering
from api.http.problems import POSITION_HEADER, BeyondHeadError, NotCaughtUpError
from api.http.waiting import Outcome
from domain.errors import NotFoundError
from projections.engine.tracking import reached
from projections.views.reading import Connection, Row

MAX_POSITION = 2**62


class Freshness(BaseModel):
    min_position: int | None = None
    wait_ms: int = 2000


async def freshness(  # async: no worker thread (see api.http.deps)
    min_position: Annotated[
        int | None,
        Query(ge=0, le=MAX_POSITION, description="Answer only once this position is reflected."),
    ] = None,
    wait_ms: Annotated[
        int,
        Query(
            ge=0,
            le=30_000,
            description="How long to wait for min_position (ms); the server caps it "
            "(setting max_wait_ms, 2000 by default).",
        ),
    ] = 2000,
) -> Freshness:
    return Freshness(min_position=min_position, wait_ms=wait_ms)


FreshnessDep = Annotated[Freshness, Depends(freshness)]

SPARE_WAIT_S = 0.005
"""How long a request waits for a spare connection before doing without."""


def reads(
    *names: str, who: Callable[..., Any] = authenticate
) -> Callable[..., AsyncIterator[Connection]]:
    """A dependency answering a read connection once `names` reflect `min_position`,
    for the caller `who` names (a dependency answering a Principal: the bearer token's
    by default; Open311 names its api_key's client).

    It takes the connection and reads the position (the query that also tells a
    connection the server dropped, see `answering`) in one worker-thread call; it gives
    the connection back on the event loop (an idle autocommit connection goes back to
    the pool without I/O), sparing each read two thread hand-overs. A query that must
    wait gives its connection back first and waits on the process's `PositionWatch`
    (no connection, no thread: see api.http.waiting), at most `max_wait_ms`."""

    async def dependency(
        fresh: FreshnessDep,
        request: Request,
        response: Response,
        principal: Principal = Depends(who),  # noqa: B008 (`who` is no global to annotate)
    ) -> AsyncIterator[Connection]:
        pool: ConnectionPool[Any] = request.app.state.pool  # (not PoolDep: see get_caller)
        conn, at = await run_in_threadpool(answering, pool, lambda c: reached(c, names))
        if not _reflects(at, fresh.min_position):
            pool.putconn(conn)
            conn, at = await _waited(request, principal, names, fresh, at)
        try:
            position = str(at or 0)
            response.headers[POSITION_HEADER] = position
            request.state.projection_position = position  # for an error answer (404, 503)
            if not _reflects(at, fresh.min_position):
                raise NotCaughtUpError(
                    f"the projections {', '.join(names)} have not reached position "
                    f"{fresh.min_position} within {_wait_ms(request, fresh)} ms; try again"
                )
            yield conn
        finally:
            pool.putconn(conn)

    return dependency


def _reflects(at: int | None, wanted: int | None) -> bool:
    return wanted is None or (at is not None and at >= wanted)


def _wait_ms(request: Request, fresh: Freshness) -> int:
    """The query's `wait_ms`, capped by the setting `max_wait_ms`."""
    return min(fresh.wait_ms, request.app.state.settings.max_wait_ms)


async def _waited(
    request: Request,
    principal: Principal,
    names: Sequence[str],
    fresh: Freshness,
    at: int | None,
) -> tuple[Connection, int | None]:
    """Wait (holding no connection) until `names` reach `fresh.min_position`, the
    position is found beyond the log's head (503 at once), or the capped `wait_ms`
    passes; then a connection and the position it reads. A token waits at the rate
    the setting `waits_per_second` allows (429 beyond it)."""
    assert fresh.min_position is not None
    state = request.app.state
    timeout = _wait_ms(request, fresh) / 1000
    if timeout > 0:
        state.limits.waits.take(principal.token_id)
        outcome, head = await state.watch.wait(names, fresh.min_position, timeout)
        if outcome is Outcome.BEYOND_HEAD:
            request.state.projection_position = str(at or 0)
            raise BeyondHeadError(
                f"position {fresh.min_position} is beyond the log's head ({head}): nothing "
                "has been recorded there yet, so no wait could reach it"
            )
    pool: ConnectionPool[Any] = state.pool
    return await run_in_threadpool(answering, pool, lambda c: reached(c, names))


@contextmanager
def spare_connections(pool: ConnectionPool[Any], wanted: int) -> Iterator[list[Connection]]:
    """Up to `wanted` more connections for one request, only those the pool has idle
    now (a busy pool gives none, and the request runs on its own connection)."""
    spares: list[Connection] = []
    try:
        for _ in range(wanted):
            try:
                spares.append(pool.getconn(timeout=SPARE_WAIT_S))
            except PoolTimeout:
                break
        yield spares
    finally:
        for spare in spares:
            pool.putconn(spare)


# --- pagination ---

Limit = Annotated[int, Query(ge=1, le=500, description="Items per page (at most 500).")]
Cursor = Annotated[
    str | None,
    Query(max_length=500, description="`next_cursor` of the previous page."),
]


def found(row: Row | None, kind: str, key: object) -> Row:
    """`row`, or NotFoundError (404) naming what was looked for."""
    if row is None:
        raise NotFoundError(kind, key)
    return row


def reader(*names: str, who: Callable[..., Any] = authenticate) -> Any:
    """The dependency of a `Connection` parameter reading the tables of the projections
    `names`: `Tickets = Annotated[Connection, reader("tickets")]`, for the caller `who`
    names (see `reads`)."""
    return Depends(reads(*names, who=who))
