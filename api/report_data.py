"""A `ReportData` for a jurisdiction's subtree and period, from the query tables.

Provisional: the rate figures here are computed directly from the `tickets` table with
the formulas below, until the scorecards (versioned weights, k and minimum case count)
replace them; `assemble` is the one place to change. Counts of overdue tickets come
from `tickets`, the points flow from the double-entry `points_postings`.

- Period: local (Asia/Shanghai) dates `start`..`end` inclusive; a ticket belongs to the
  month it was reported in, a posting to the month it was recorded in.
- response in time = responded and never overdue / (responded or overdue);
  on-time resolution = resolved and never overdue / (resolved or ever overdue);
  satisfaction = (satisfied + K x basically satisfied) / rated;
  three-rates score = the WEIGHTS-weighted mean of the three (n/a if one is);
  a rate of fewer than MIN_CASES cases is n/a.
- Points: issued = minus the change of the communities' issuance accounts (so net of
  reversals); redeemed, deducted and expired = the change of those accounts.
- `as_of`: tickets reported and postings recorded after it are left out. The tickets
  table holds each ticket's current state, so a ticket reported before `as_of` counts
  with what happened to it since; the scorecards' as-of figures will not.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from api.report import ChildOverdue, Headline, Month, PointsMonth, ReportData, Worker
from domain.calendar import LOCAL_TZ
from domain.errors import NotFoundError
from projections.runner import max_position
from projections.tracking import reached

K = 0.8
WEIGHTS = (0.3, 0.3, 0.4)
"""Response in time, on-time resolution, satisfaction."""
MIN_CASES = 5
POLICY = f"provisional (k={K}, weights={'/'.join(map(str, WEIGHTS))}, min {MIN_CASES} cases)"
READS = ("tickets", "points", "jurisdictions")

TICKET_COUNTS = """
    count(*) AS received,
    count(*) FILTER (WHERE responded_at IS NOT NULL AND NOT response_overdue) AS responded_ok,
    count(*) FILTER (WHERE responded_at IS NOT NULL OR response_overdue) AS response_due,
    count(*) FILTER (WHERE resolved_at IS NOT NULL AND resolution_overdue_count = 0)
        AS resolved_ok,
    count(*) FILTER (WHERE resolved_at IS NOT NULL OR resolution_overdue_count > 0)
        AS resolution_due,
    count(*) FILTER (WHERE satisfaction = 'satisfied') AS satisfied,
    count(*) FILTER (WHERE satisfaction = 'basically_satisfied') AS basically,
    count(*) FILTER (WHERE satisfaction IS NOT NULL) AS rated,
    count(*) FILTER (WHERE response_overdue) AS response_overdue,
    count(*) FILTER (WHERE resolution_overdue_count > 0) AS resolution_overdue
"""
IN_PERIOD = (
    "grid_path @> ARRAY[%(code)s]::text[] AND reported_at >= %(lo)s AND reported_at < %(hi)s"
)
"""The tickets of the subtree reported in the period (constant SQL, bound parameters)."""
LOCAL_MONTH = "date_trunc('month', {} AT TIME ZONE 'Asia/Shanghai')::date"


def bounds(start: date, end: date, as_of: datetime | None) -> tuple[datetime, datetime]:
    """[first instant of `start`, first instant after `end`) in local time, cut at as_of."""
    lo = datetime.combine(start, time(0), tzinfo=LOCAL_TZ).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=LOCAL_TZ).astimezone(UTC)
    if as_of is not None:
        hi = min(hi, as_of + timedelta(microseconds=1))
    return lo, max(lo, hi)


def months(start: date, end: date) -> list[date]:
    """The first day of every month from `start`'s to `end`'s."""
    found, month = [], start.replace(day=1)
    while month <= end:
        found.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return found


def rate(numerator: float, denominator: int) -> float | None:
    return numerator / denominator if denominator >= MIN_CASES else None


def rates(counts: dict[str, Any]) -> tuple[float | None, float | None, float | None, float | None]:
    """(response in time, on-time resolution, satisfaction, three-rates score)."""
    three = (
        rate(counts["responded_ok"], counts["response_due"]),
        rate(counts["resolved_ok"], counts["resolution_due"]),
        rate(counts["satisfied"] + K * counts["basically"], counts["rated"]),
    )
    if any(r is None for r in three):
        return (*three, None)
    score = sum(w * r for w, r in zip(WEIGHTS, three, strict=True))  # type: ignore[operator]
    return (*three, score)


def assemble(
    conn: psycopg.Connection[Any], code: str, start: date, end: date, as_of: datetime | None
) -> ReportData:
    """The report of the subtree of `code` for local dates `start`..`end` (inclusive)."""
    node = _one(conn, "SELECT code, name, path FROM jurisdictions WHERE code = %s", code)
    if node is None:
        raise NotFoundError("Jurisdiction", code)
    lo, hi = bounds(start, end, as_of)
    where = {"code": code, "lo": lo, "hi": hi}
    total = _one(conn, f"SELECT {TICKET_COUNTS} FROM tickets WHERE {IN_PERIOD}", where)  # noqa: S608
    assert total is not None
    by_month = {
        r["month"]: r
        for r in _all(
            conn,
            f"SELECT {LOCAL_MONTH.format('reported_at')} AS month, {TICKET_COUNTS}"  # noqa: S608
            f" FROM tickets WHERE {IN_PERIOD} GROUP BY 1",
            where,
        )
    }
    monthly = [
        Month(m, *rates(by_month[m])) if m in by_month else Month(m, None, None, None, None)
        for m in months(start, end)
    ]
    flow = _points_flow(conn, where, start, end)
    received = Headline("Tickets received", "受理工单", total["received"], unit="count")
    response, resolution, satisfaction, score = rates(total)
    headline = [
        received,
        Headline("Response in time", "响应及时率", response, total["responded_ok"],
                 total["response_due"]),
        Headline("On-time resolution", "按期办结率", resolution, total["resolved_ok"],
                 total["resolution_due"]),
        Headline("Satisfaction", "满意率", satisfaction, total["satisfied"], total["rated"]),
        Headline("Three-rates score", "三率综合得分", score, unit="score"),
        Headline("Response overdue", "响应超时", total["response_overdue"], unit="count"),
        Headline("Resolution overdue", "办结超时", total["resolution_overdue"], unit="count"),
        Headline("Points issued", "积分发放", sum(p.issued for p in flow), unit="points"),
        Headline("Points redeemed", "积分兑换", sum(p.redeemed for p in flow), unit="points"),
        Headline("Points deducted", "积分扣减", sum(p.deducted for p in flow), unit="points"),
        Headline("Points expired", "积分清零", sum(p.expired for p in flow), unit="points"),
    ]  # fmt: skip
    position = reached(conn, READS) or 0
    notes = [
        f"Rates: {POLICY}, from the tickets table; a ticket counts in the month it was "
        "reported, with its state at the projection position.",
    ]
    head = max_position(conn)
    if head > position:
        notes.append(f"The query tables were {head - position:,} events behind the log.")
    return ReportData(
        jurisdiction_code=code,
        jurisdiction_name=node["name"],
        start=start,
        end=end,
        as_of=as_of,
        position=position,
        policy_version=POLICY,
        headline=headline,
        monthly=monthly,
        overdue_by_child=_overdue_by_child(conn, node, where),
        points_flow=flow,
        workers=_workers(conn, where),
        notes=notes,
    )


def _overdue_by_child(
    conn: psycopg.Connection[Any], node: dict[str, Any], where: dict[str, Any]
) -> list[ChildOverdue]:
    """Overdue tickets per child of the node (per the node itself if it is a grid)."""
    children = _all(
        conn, "SELECT code, name FROM jurisdictions WHERE parent = %(code)s ORDER BY code", where
    )
    level = len(node["path"]) + (1 if children else 0)
    counts = {
        r["child"]: r
        for r in _all(
            conn,
            "SELECT grid_path[%(level)s] AS child,"  # noqa: S608
            " count(*) FILTER (WHERE response_overdue) AS response_overdue,"
            " count(*) FILTER (WHERE resolution_overdue_count > 0) AS resolution_overdue"
            f" FROM tickets WHERE {IN_PERIOD} GROUP BY 1",
            {**where, "level": level},
        )
    }
    places = children or [{"code": node["code"], "name": node["name"]}]
    return [
        ChildOverdue(
            p["code"],
            p["name"],
            counts[p["code"]]["response_overdue"] if p["code"] in counts else 0,
            counts[p["code"]]["resolution_overdue"] if p["code"] in counts else 0,
        )
        for p in places
    ]


def _points_flow(
    conn: psycopg.Connection[Any], where: dict[str, Any], start: date, end: date
) -> list[PointsMonth]:
    """Points issued, redeemed, deducted and expired per month by the communities of the
    subtree (every month of the period, zeros where nothing moved)."""
    found = {
        r["month"]: r
        for r in _all(
            conn,
            f"SELECT {LOCAL_MONTH.format('recorded_at')} AS month,"  # noqa: S608
            " coalesce(-sum(amount) FILTER (WHERE account_type = 'issuance'), 0) AS issued,"
            " coalesce(sum(amount) FILTER (WHERE account_type = 'redeemed'), 0) AS redeemed,"
            " coalesce(sum(amount) FILTER (WHERE account_type = 'deducted'), 0) AS deducted,"
            " coalesce(sum(amount) FILTER (WHERE account_type = 'expired'), 0) AS expired"
            " FROM points_postings WHERE community IN"
            " (SELECT code FROM jurisdictions WHERE path @> ARRAY[%(code)s]::text[])"
            " AND recorded_at >= %(lo)s AND recorded_at < %(hi)s GROUP BY 1",
            where,
        )
    }
    flow = []
    for month in months(start, end):
        r = found.get(month)
        values = (r["issued"], r["redeemed"], r["deducted"], r["expired"]) if r else (0,) * 4
        flow.append(PointsMonth(month, *(int(v) for v in values)))
    return flow


def _workers(conn: psycopg.Connection[Any], where: dict[str, Any]) -> list[Worker]:
    """Who handled the tickets (their last assignee): how many, and how satisfied the
    reporters were. Stars come with the scorecards (n/a until then)."""
    found = _all(
        conn,
        "SELECT assignee, count(*) AS tickets,"  # noqa: S608
        " count(*) FILTER (WHERE satisfaction = 'satisfied') AS satisfied,"
        " count(*) FILTER (WHERE satisfaction = 'basically_satisfied') AS basically,"
        " count(*) FILTER (WHERE satisfaction IS NOT NULL) AS rated"
        f" FROM tickets WHERE {IN_PERIOD} AND assignee IS NOT NULL GROUP BY assignee",
        where,
    )
    return [
        Worker(
            r["assignee"], None, r["tickets"], rate(r["satisfied"] + K * r["basically"], r["rated"])
        )
        for r in found
    ]


def _one(conn: psycopg.Connection[Any], query: Any, params: Any) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params if isinstance(params, dict) else (params,)).fetchone()


def _all(conn: psycopg.Connection[Any], query: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()
