"""`gridledger run` for a newcomer: a simulated district, its query tables, and one
ready token per role, scoped to the district's real codes and member ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import psycopg

from api.http.auth import ROLES, issue_token
from api.runtime.build import build_governance
from api.runtime.settings import Settings
from api.simulation.simulate import SimClock, SimReport, simulate
from projections.engine.runner import Runner, Target
from projections.registry import all_projections
from projections.store.events import max_position

DEMO_SEED = 7


@dataclass(frozen=True)
class DemoToken:
    role: str
    sub: str
    scope: str
    token: str


def first_day_of_last_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


def seed(
    settings: Settings, url: str, *, scale: str = "small", months: int = 1, today: date
) -> SimReport | None:
    """Simulate `months` of a district ending before `today` if the store is empty."""
    with psycopg.connect(url) as conn:
        if max_position(conn) > 0:
            return None
    clock = SimClock(first_day_of_last_month(today) - timedelta(days=31 * (months - 1)))
    governance = build_governance(settings, url, clock=clock)
    try:
        return simulate(governance, clock, scale, months, DEMO_SEED)
    finally:
        governance.close()


def catch_up(settings: Settings, url: str) -> int:
    """Apply the whole log to every projection; answer the events read."""
    governance = build_governance(settings, url)
    runner = Runner(url, governance.mapper, [Target(p) for p in all_projections().values()])
    try:
        return runner.run_until_caught_up()
    finally:
        runner.close()
        governance.close()


def _first(conn: psycopg.Connection[Any], query: str, *params: Any) -> tuple[Any, ...]:
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise LookupError(f"the demo data has nothing for: {query}")
    return tuple(row)


def tokens(url: str, secret: bytes, hours: float = 12) -> list[DemoToken]:
    """One token per role, scoped to the first community of the demo district."""
    with psycopg.connect(url) as conn:
        district, street, community = _first(
            conn,
            "SELECT path[1], path[2], code FROM jurisdictions WHERE kind = 'community'"
            " ORDER BY code LIMIT 1",
        )
        worker, grid = _first(
            conn,
            "SELECT member_id::text, jurisdiction FROM roster_roles WHERE role = 'grid_worker'"
            " AND released_at IS NULL AND community = %s ORDER BY jurisdiction LIMIT 1",
            community,
        )
        (resident,) = _first(
            conn,
            "SELECT id::text FROM members WHERE home_community = %s AND kind = 'resident'"
            " ORDER BY points_balance DESC, id LIMIT 1",
            community,
        )
    who = {
        "admin": ("staff:admin", district),
        "street_staff": (f"staff:{street}", street),
        "department_staff": ("staff:urban-management", district),
        "community_staff": (f"staff:{community}:1", community),
        "grid_worker": (worker, grid),
        "resident": (resident, community),
        "auditor": ("auditor-1", district),
        "evaluator": ("evaluator-1", district),
    }
    return [
        DemoToken(
            role, sub, scope, issue_token(secret, sub=sub, role=role, scope=scope, hours=hours)
        )
        for role in ROLES
        for sub, scope in [who[role]]
    ]
