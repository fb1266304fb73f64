"""A `ReportData` for a jurisdiction's subtree and period, from the scorecards.

Every ticket figure is a scorecard's (`projections.analysis.scorecards`, defined in the README's
"Evaluating" section), under the assessment policy in force for the jurisdiction, so a
report and `GET /v1/scorecards/{code}` for the same period and as_of agree; the points
flow comes from the double-entry `points_postings`.

- Period: local (Asia/Shanghai) dates `start`..`end` inclusive; a ticket belongs to the
  month it was reported in, a posting to the month it was recorded in.
- Monthly trend: the scorecard's three rates and combined score of each month's cohort.
- Overdue by child: per child jurisdiction, the dispatched tickets not responded to by
  their response deadline, and the tickets resolved late or open past their deadline.
- Workers: the handlers of the cohort's tickets (assignee, responder, resolver) with the
  most tickets, each with the stars of their own scorecard.
- Points: issued = minus the change of the communities' issuance accounts (so net of
  reversals); redeemed, deducted and expired = the change of those accounts.
- `as_of`: the record as it stood then, exactly (tickets as their versions were then,
  postings recorded by then), as the scorecards answer it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from api.reports.render import ChildOverdue, Headline, Month, PointsMonth, ReportData, Worker
from domain.calendar import end_of_local_day, start_of_local_day
from domain.errors import NotFoundError
from projections.analysis.scorecard_series import CHILD, LOCAL_MONTH, figures_by
from projections.analysis.scorecards import (
    Period,
    jurisdiction_scorecard,
    stars,
    ticket_figures,
    ticket_rates,
)
from projections.engine.tracking import reached
from projections.store.events import max_position
from projections.store.snapshot import one_snapshot

READS = ("assessments", "points", "jurisdictions")
TOP_WORKERS = 20
"""How many workers a report lists (those with the most tickets)."""
MONTH_OF = sql.SQL("date_trunc('month', {} AT TIME ZONE 'Asia/Shanghai')::date")
MONTH_RATES = ("response_in_time_rate", "on_time_resolution_rate", "satisfaction_rate",
               "three_rates_score")  # fmt: skip


def bounds(start: date, end: date, as_of: datetime | None) -> tuple[datetime, datetime]:
    """[first instant of `start`, first instant after `end`) in local time, cut at as_of."""
    lo, hi = start_of_local_day(start), end_of_local_day(end)
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


def assemble(
    conn: psycopg.Connection[Any],
    code: str,
    start: date,
    end: date,
    as_of: datetime | None,
    now: datetime | None = None,
) -> ReportData:
    """The report of the subtree of `code` for local dates `start`..`end` (inclusive)."""
    now = now or datetime.now(UTC)
    with one_snapshot(conn, ()):  # every figure and the position from one state of the tables
        position = reached(conn, READS) or 0
        head = max_position(conn)
        node = _one(
            conn,
            "SELECT code, name, kind, p.path FROM jurisdictions JOIN assessment_paths p"
            " USING (code, kind) WHERE code = %s",
            code,
        )
        if node is None:
            raise NotFoundError("Jurisdiction", code)
        lo, hi = bounds(start, end, as_of)
        period = Period(lo, hi, as_of)
        card = jurisdiction_scorecard(conn, code, node["kind"], node["path"], period, now)
        terms = card["policy"]["terms"]
        by_month = {
            raw["month"]: ticket_rates(raw, terms)
            for raw in figures_by(conn, period, code, now, {"month": LOCAL_MONTH})
        }
        empty = {key: {"value": None} for key in MONTH_RATES}
        monthly = [
            Month(month, *(by_month.get(month, empty)[key]["value"] for key in MONTH_RATES))
            for month in months(start, end)
        ]
        flow = _points_flow(conn, {"code": code, "lo": lo, "hi": hi}, start, end)
        policy = card["policy"]
        defined_by = policy["jurisdiction"] or "the built-in default"
        notes = [
            "Figures as defined in the README's Evaluating section, under the assessment"
            f" policy of {defined_by} (version {policy['version']}).",
        ]
        if head > position:
            notes.append(f"The query tables were {head - position:,} events behind the log.")
        overdue = _overdue_by_child(conn, node, period, now)
        workers = _workers(conn, code, period, terms, now)
    return ReportData(
        jurisdiction_code=code,
        jurisdiction_name=node["name"],
        start=start,
        end=end,
        as_of=as_of,
        position=position,
        policy_version=f"{policy['jurisdiction'] or 'default'} v{policy['version']}",
        headline=_headline(card, flow),
        monthly=monthly,
        overdue_by_child=overdue,
        points_flow=flow,
        workers=workers,
        notes=notes,
    )


def _rate(card: dict[str, Any], key: str, en: str, zh: str) -> Headline:
    figure = card["rates"][key]
    return Headline(en, zh, figure["value"], figure["numerator"], figure["denominator"])


def _headline(card: dict[str, Any], flow: list[PointsMonth]) -> list[Headline]:
    tickets = card["tickets"]
    score = card["rates"]["three_rates_score"]["value"]
    hours = card["volunteering"]["verified_hours"]
    points = card["points"]
    return [
        Headline("Tickets received", "受理工单", tickets["received"], unit="count"),
        _rate(card, "response_in_time_rate", "Response in time", "响应及时率"),
        _rate(card, "on_time_resolution_rate", "On-time resolution", "按期办结率"),
        _rate(card, "handling_rate", "Handling rate", "办结率"),
        _rate(card, "satisfaction_rate", "Satisfaction", "满意率"),
        Headline("Three-rates score", "三率综合得分", score, unit="score"),
        Headline("Open and overdue", "超期未办结", tickets["overdue_open"], unit="count"),
        Headline("Verified volunteer hours", "认证志愿时长", hours, unit="hours"),
        Headline("Points issued", "积分发放", points["issued"], unit="points"),
        Headline("Points redeemed", "积分兑换", points["redeemed"], unit="points"),
        Headline("Points deducted", "积分扣减", points["deducted"], unit="points"),
        Headline("Points expired", "积分清零", sum(p.expired for p in flow), unit="points"),
    ]


def _overdue_by_child(
    conn: psycopg.Connection[Any], node: dict[str, Any], period: Period, now: datetime
) -> list[ChildOverdue]:
    """Overdue tickets per child of the node (per the node itself if it is a grid)."""
    children = _all(
        conn,
        "SELECT code, name FROM jurisdictions WHERE parent = %(code)s ORDER BY code",
        {"code": node["code"]},
    )
    places = children or [{"code": node["code"], "name": node["name"]}]
    groups = {"child": CHILD}
    found = {
        raw["child"]: raw
        for raw in figures_by(conn, period, node["code"], now, groups, len(node["path"]))
    }
    late = {"response_late": 0, "resolution_late": 0}
    return [
        ChildOverdue(
            place["code"],
            place["name"],
            found.get(place["code"], late)["response_late"],
            found.get(place["code"], late)["resolution_late"],
        )
        for place in places
    ]


_POINTS_FLOW = sql.SQL(
    "SELECT {month} AS month,"
    " coalesce(-sum(amount) FILTER (WHERE account_type = 'issuance'), 0) AS issued,"
    " coalesce(sum(amount) FILTER (WHERE account_type = 'redeemed'), 0) AS redeemed,"
    " coalesce(sum(amount) FILTER (WHERE account_type = 'deducted'), 0) AS deducted,"
    " coalesce(sum(amount) FILTER (WHERE account_type = 'expired'), 0) AS expired"
    " FROM points_postings WHERE community IN"
    " (SELECT code FROM jurisdictions WHERE path @> ARRAY[%(code)s]::text[])"
    " AND recorded_at >= %(lo)s AND recorded_at < %(hi)s GROUP BY 1"
).format(month=MONTH_OF.format(sql.Identifier("recorded_at")))


def _points_flow(
    conn: psycopg.Connection[Any], where: dict[str, Any], start: date, end: date
) -> list[PointsMonth]:
    """Points issued, redeemed, deducted and expired per month by the communities of the
    subtree (every month of the period, zeros where nothing moved)."""
    found = {
        r["month"]: r
        for r in _all(
            conn,
            _POINTS_FLOW,
            where,
        )
    }
    flow = []
    for month in months(start, end):
        r = found.get(month)
        values = (r["issued"], r["redeemed"], r["deducted"], r["expired"]) if r else (0,) * 4
        flow.append(PointsMonth(month, *(int(v) for v in values)))
    return flow


_CURRENT = sql.SQL("valid_to IS NULL")
_AS_OF = sql.SQL("valid_from <= %(as_of)s AND (valid_to IS NULL OR valid_to > %(as_of)s)")
_TOP_HANDLERS = sql.SQL(
    "SELECT handler, count(*) AS tickets FROM assessment_tickets, unnest(handlers) AS handler"
    " WHERE {rows} AND reported_at >= %(start)s AND reported_at < %(end)s"
    " AND grid_path @> ARRAY[%(code)s]::text[]"
    " GROUP BY handler ORDER BY count(*) DESC, handler LIMIT %(top)s"
)
"""The handlers with the most tickets of a subtree, the rows as they stand (`_CURRENT`)
or stood (`_AS_OF`)."""


def _workers(
    conn: psycopg.Connection[Any], code: str, period: Period, terms: dict[str, Any], now: datetime
) -> list[Worker]:
    """The handlers of the subtree's tickets with the most of them, each with their stars
    (by the same figures and rules as their worker scorecard, under the policy in force
    for the jurisdiction reported on)."""
    rows = _CURRENT if period.as_of is None else _AS_OF
    found = _all(
        conn,
        _TOP_HANDLERS.format(rows=rows),
        {**period.params(), "code": code, "top": TOP_WORKERS},
    )
    names = _names(conn, [r["handler"] for r in found])
    workers = []
    for r in found:
        raw = ticket_figures(conn, period, worker=r["handler"], now=now)
        rates = ticket_rates(raw, terms)
        earned = stars(raw, rates, terms)["earned"]
        satisfaction = rates["satisfaction_rate"]["value"]
        name = names.get(r["handler"], r["handler"])
        workers.append(Worker(name, earned, raw["received"], satisfaction))
    return workers


def _names(conn: psycopg.Connection[Any], handlers: list[str]) -> dict[str, str]:
    """The member names of the handlers that are member ids."""
    ids = [h for h in handlers if _is_uuid(h)]
    if not ids:
        return {}
    query = "SELECT id::text AS id, name FROM members WHERE id = ANY(%(ids)s::uuid[])"
    return {r["id"]: r["name"] for r in _all(conn, query, {"ids": ids})}


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


def _one(conn: psycopg.Connection[Any], query: Any, params: Any) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params if isinstance(params, dict) else (params,)).fetchone()


def _all(conn: psycopg.Connection[Any], query: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()
