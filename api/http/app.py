"""The HTTP API's composition root: `create_app(settings)`.

Nothing is built at import time. The lifespan builds `Governance` (the write side), a
connection pool for the query tables and, where settings say so (the embedded
default), the projection runner and the deadline watcher in background threads; it
stops them cleanly on shutdown.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from psycopg_pool import ConnectionPool

from api.http import problems
from api.http.auth import TokenPolicy, resolve_secret
from api.http.deps import Facts
from api.http.limits import BodyLimit, RateLimits, TokenBuckets
from api.http.metrics import Metrics
from api.http.open311 import routes as open311
from api.http.open311.catalogue import catalogue_of
from api.http.open311.errors import too_large as open311_too_large
from api.http.routes import (
    activities,
    audit,
    jurisdictions,
    ledger,
    members,
    operations,
    organisations,
    pledges,
    points,
    privacy,
    scorecards,
    tickets,
)
from api.http.waiting import PositionWatch
from api.runtime.build import build_governance, database_url
from api.runtime.revocations import Revocations
from api.runtime.settings import Settings
from api.runtime.signing import log_signer
from api.runtime.workers import Workers
from domain.context import Clock, system_clock

DESCRIPTION = """
An auditable event log of grid-based community governance, and the query tables built
from it. Authenticate with `Authorization: Bearer <token>` (`gridledger token`).
Commands answer `{id, version, position}`; pass `position` as `min_position` to a query
to read your own write. Errors are `application/problem+json` (RFC 9457).
"""


TAGS = [
    {
        "name": "operations",
        "description": "Liveness, readiness with each projection's lag, metrics.",
    },
    {"name": "jurisdictions", "description": "The tree: district, street, community, grid (网格)."},
    {
        "name": "members",
        "description": "Residents, party members, staff; report-ins (报到) and roles.",
    },
    {"name": "organisations", "description": "Organisations reporting in to communities (双报到)."},
    {"name": "activities", "description": "Community activities, check-in and hours."},
    {"name": "pledges", "description": "Volunteer pledges (认领), sessions and review."},
    {
        "name": "tickets",
        "description": "Grid tickets (网格事项): report to close, queues, timelines.",
    },
    {"name": "points", "description": "Civility points (文明积分): rulebooks, awards, ledgers."},
    {"name": "assessments", "description": "Assessment policies and scorecards (考核)."},
    {"name": "audit", "description": "The audit log: streams, states at any version, proofs."},
    {
        "name": "open311",
        "description": "Open311 GeoReport v2 (`/open311/v2/`): services and service requests "
        "for existing 311 apps; errors are the spec's, not problem+json.",
    },
]
"""The resources in the order the documentation lists them."""


def create_app(settings: Settings | None = None, *, clock: Clock = system_clock) -> FastAPI:
    """The API for `settings`; `clock` is the write side's clock (a seam for tests)."""
    settings = settings or Settings()
    secret = resolve_secret(settings)
    app = FastAPI(
        title="gridledger",
        version="1",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=_lifespan(settings, clock),
    )
    app.state.settings = settings
    app.state.secret = secret
    app.state.signer = log_signer(settings)
    app.state.facts = Facts()
    app.state.open311_catalogue = catalogue_of(settings)
    app.state.metrics = Metrics()
    app.state.revocations = None
    app.state.token_policy = TokenPolicy.of(settings, lambda jti: _revoked(app, jti))
    app.state.limits = RateLimits(
        TokenBuckets("commands", settings.commands_per_second, settings.commands_burst),
        TokenBuckets("waiting queries", settings.waits_per_second, settings.waits_burst),
    )
    app.add_middleware(  # inside metrics: counted
        BodyLimit, limit=settings.max_body_bytes, documents={"/open311/": open311_too_large}
    )
    app.add_middleware(app.state.metrics.middleware)
    problems.install(app)
    _include_routers(app)
    return app


def _lifespan(
    settings: Settings, clock: Clock
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What the app opens when it starts and closes when it stops: the write side, the
    read pool, the workers (if this process runs them), the deny-list and the watch."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = database_url(settings)
        governance = build_governance(settings, url, clock=clock)
        timeout = settings.database_timeout
        pool = _read_pool(settings, url)
        workers = (
            Workers(
                url,
                governance,
                settings.watch_interval,
                checkpoints=(app.state.signer, settings.checkpoint_every),
                witnesses=settings.audit_witnesses,
                retention_days=settings.retention_inactive_days,
            )
            if settings.runs_workers()
            else None
        )
        if workers is not None:
            workers.start()
        revocations = Revocations(
            url, refresh=settings.revocation_refresh_seconds, connect_timeout=timeout
        )
        revocations.start()
        watch = PositionWatch(url, connect_timeout=timeout)
        app.state.governance = governance
        app.state.pool = pool
        app.state.revocations = revocations
        app.state.watch = watch
        # Nearly every object made so far (modules, routes, schemas) lives as long as the
        # process. Frozen, they are out of the collector's sight: a full collection then
        # scans what requests made since (10-30 ms measured under load), not the whole
        # heap (110-130 ms, holding the GIL, so every request in flight waits).
        # Once a process: tests start many apps in one.
        if not gc.get_freeze_count():
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            watch.stop()
            revocations.stop()
            if workers is not None:
                workers.stop()
            pool.close()
            governance.close()

    return lifespan


def _read_pool(settings: Settings, url: str) -> ConnectionPool[Any]:
    return ConnectionPool(
        url,
        min_size=1,
        max_size=settings.read_pool_size,
        kwargs={"autocommit": True, "connect_timeout": settings.database_timeout},
        open=True,
        timeout=settings.database_timeout,
    )


def _include_routers(app: FastAPI) -> None:
    # FastAPI matches a request against each route in turn, in this order: the busiest
    # resources first (tickets, then points), so that their requests try fewer routes.
    # `points` stays before `ledger`, which shares its prefix. (The documentation lists
    # the resources in the order of TAGS.)
    for module in (
        tickets,
        points,
        activities,
        pledges,
        members,
        privacy,
        organisations,
        jurisdictions,
        scorecards,
        ledger,
        audit,
        operations,
        open311,
    ):
        app.include_router(module.router)
    app.include_router(privacy.audit_router)


def _revoked(app: FastAPI, jti: str) -> bool:
    revocations: Revocations | None = app.state.revocations
    return revocations is not None and revocations.is_revoked(jti)
