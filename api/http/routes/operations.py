"""Operations: liveness, readiness (database and projections) and metrics."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field

from api.http.auth import bearer, bearer_token, principal_of
from api.http.deps import PoolDep
from api.http.permissions import is_platform
from api.http.problems import COMMON, ForbiddenError
from api.http.routing import OneHopRoute
from projections.audit.signer import refused
from projections.engine.runner import lag

router = APIRouter(tags=["operations"], route_class=OneHopRoute)


class Health(BaseModel):
    status: str


class ProjectionLag(BaseModel):
    name: str
    status: str
    position: int
    lag: int


class Readiness(BaseModel):
    status: str
    database: bool
    projections: list[ProjectionLag]
    checkpoints: str | None = Field(
        default=None, description="Why the signer refused the last checkpoint, if it did."
    )


@router.get("/healthz")
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


def _refused(pool: Any) -> str | None:
    """The signer's standing refusal (None: none, or the database is unreachable)."""
    try:
        with pool.connection(timeout=2) as conn:
            return refused(conn)
    except (psycopg.Error, PoolTimeout):
        return None


def _projections(pool: Any) -> list[ProjectionLag] | None:
    try:
        with pool.connection(timeout=2) as conn:
            found = lag(conn)
    except (psycopg.Error, PoolTimeout):
        return None
    return [
        ProjectionLag(name=name, status=status, position=position, lag=behind)
        for name, (position, behind, status) in sorted(found.items())
    ]


@router.get("/readyz", responses={503: {"model": Readiness, "description": "Not ready"}})
def readyz(pool: PoolDep, response: Response) -> Readiness:
    """Database reachable, and each projection's position, lag and status; 503 if the
    database is down or a projection has failed."""
    projections = _projections(pool)
    if projections is None:
        response.status_code = 503
        return Readiness(status="database unavailable", database=False, projections=[])
    failed = [p.name for p in projections if p.status == "failed"]
    refusal = _refused(pool)
    if failed or refusal:
        response.status_code = 503
        named = [*failed, *(["checkpoints"] if refusal else [])]
        return Readiness(
            status=f"failed: {', '.join(named)}",
            database=True,
            projections=projections,
            checkpoints=refusal,
        )
    return Readiness(status="ready", database=True, projections=projections)


async def scraper(  # async: no worker thread (see api.http.deps)
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Let through the scrape token (setting `metrics_token`) or a platform admin's."""
    given = bearer_token(credentials)
    expected = request.app.state.settings.metrics_token
    if expected is not None and hmac.compare_digest(
        given.encode(), expected.get_secret_value().encode()
    ):
        return
    if not is_platform(principal_of(request, given)):
        raise ForbiddenError("/metrics answers the scrape token or a platform admin (scope *)")


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    dependencies=[Depends(scraper)],
    responses={401: COMMON[401], 403: COMMON[403]},
)
def metrics(request: Request, pool: PoolDep) -> str:
    """Prometheus text: requests and latency per route, each projection's lag (for the
    scrape token, setting `metrics_token`, or a platform admin's token)."""
    lines = request.app.state.metrics.render()
    lines += [
        "# HELP gridledger_projection_lag Events a projection is behind the log.",
        "# TYPE gridledger_projection_lag gauge",
    ]
    projections = _projections(pool) or []
    for p in projections:
        lines.append(f'gridledger_projection_lag{{name="{p.name}"}} {p.lag}')
    lines += [
        "# HELP gridledger_projection_position The last position a projection applied.",
        "# TYPE gridledger_projection_position gauge",
    ]
    lines += [
        f'gridledger_projection_position{{name="{p.name}"}} {p.position}' for p in projections
    ]
    lines += [
        "# HELP gridledger_projection_failed 1 if a projection stopped at a poison event.",
        "# TYPE gridledger_projection_failed gauge",
    ]
    lines += [
        f'gridledger_projection_failed{{name="{p.name}"}} {int(p.status == "failed")}'
        for p in projections
    ]
    lines += [
        "# HELP gridledger_checkpoint_refused 1 if the signer refused to sign the stored tree"
        " (not an append-only extension of the last checkpoint).",
        "# TYPE gridledger_checkpoint_refused gauge",
        f"gridledger_checkpoint_refused {int(_refused(pool) is not None)}",
    ]
    return "\n".join(lines) + "\n"
