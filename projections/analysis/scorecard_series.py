"""Scorecards as flat rows (the exports' tables) and as monthly series by child
jurisdiction (the report's charts), from the figures of `scorecards`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, LiteralString

from psycopg import sql
from psycopg.rows import dict_row

from projections.analysis.flat_table import Column, Kind
from projections.analysis.scorecards import (
    AS_OF_ROWS,
    COHORT,
    IN_SUBTREE,
    NOW_ROWS,
    TICKET_FIGURES,
    Connection,
    Period,
    Row,
    joined,
    ticket_rates,
)

TABLE_COLUMNS: tuple[Column, ...] = (
    Column("figure", "Figure", "指标", width=40),
    Column("value", "Value", "数值", Kind.DECIMAL),
    Column("rate", "Rate", "比率", Kind.RATE),
    Column("numerator", "Numerator", "分子", Kind.INT),
    Column("denominator", "Denominator", "分母", Kind.INT),
    Column("note", "Note", "说明", width=36),
)
"""A rate fills `rate` (with its numerator and denominator, or a `note` saying why it is
not shown); a count, hours or a time fills `value`."""

FIGURE_NAMES: dict[str, tuple[str, str]] = {
    "tickets.received": ("Tickets received", "受理事项数"),
    "tickets.accepted": ("Tickets accepted", "立案数"),
    "tickets.rejected": ("Tickets rejected", "不予受理数"),
    "tickets.dispatched": ("Tickets dispatched", "派遣数"),
    "tickets.closed": ("Tickets closed", "销号数"),
    "tickets.rated": ("Tickets rated", "评价数"),
    "tickets.overdue_open": ("Open and overdue", "超期未办结数"),
    "rates.response_in_time_rate": ("Response-in-time rate", "及时响应率"),
    "rates.on_time_resolution_rate": ("On-time resolution rate", "按期办结率"),
    "rates.handling_rate": ("Handling rate", "办结率"),
    "rates.grid_handling_rate": ("Grid handling rate", "网格办结率"),
    "rates.escalation_rate.community": ("Escalation rate to community", "上报社区率"),
    "rates.escalation_rate.street": ("Escalation rate to street", "上报街道率"),
    "rates.escalation_rate.department": ("Escalation rate to department", "上报部门率"),
    "rates.satisfaction_rate": ("Satisfaction rate", "满意率"),
    "rates.reopen_rate": ("Reopen rate", "重办率"),
    "rates.three_rates_score": ("Three-rates score", "三率综合得分"),
    "times.avg_response_hours": ("Average response time (h)", "平均响应时长(小时)"),
    "times.p90_response_hours": ("P90 response time (h)", "90%响应时长(小时)"),
    "times.avg_resolution_hours": ("Average resolution time (h)", "平均办结时长(小时)"),
    "times.p90_resolution_hours": ("P90 resolution time (h)", "90%办结时长(小时)"),
    "pledges.made": ("Pledges made", "承诺数"),
    "pledges.fulfilment_rate": ("Pledge fulfilment rate", "践诺率"),
    "volunteering.verified_hours": ("Verified volunteer hours", "认证志愿时长"),
    "volunteering.participations": ("Activity participations", "活动参与人次"),
    "volunteering.participants": ("Activity participants", "活动参与人数"),
    "points.issued": ("Points issued", "积分发放"),
    "points.redeemed": ("Points redeemed", "积分兑换"),
    "points.deducted": ("Points deducted", "积分扣减"),
    "stars.earned": ("Stars earned", "星级"),
}


def _lookup(card: Row, key: str) -> Any:
    value: Any = card
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def scorecard_table(card: Row) -> tuple[tuple[Column, ...], list[Row]]:
    """A scorecard as flat rows, one per figure, with bilingual headers and figure names
    ("Response-in-time rate / 及时响应率"), for csv and xlsx exports."""
    rows: list[Row] = []
    for key, (english, chinese) in FIGURE_NAMES.items():
        found = _lookup(card, key)
        if found is None and key.split(".")[0] not in card:
            continue
        row: Row = {"figure": f"{english} / {chinese}"}
        if isinstance(found, dict):
            row |= {
                "rate": found.get("value"),
                "numerator": found.get("numerator"),
                "denominator": found.get("denominator"),
                "note": found.get("reason"),
            }
        else:
            row["value"] = found
        rows.append(row)
    return TABLE_COLUMNS, rows


CHILD: LiteralString = "coalesce(grid_path[%(depth)s + 1], grid_path[%(depth)s])"
"""The child of the jurisdiction at `depth` (its place in the path, from 1) that a
ticket lies in (a grid is its own child)."""
LOCAL_MONTH: LiteralString = "date_trunc('month', reported_at AT TIME ZONE 'Asia/Shanghai')::date"
"""The local month a ticket was reported in."""


def figures_by(
    conn: Connection,
    period: Period,
    code: str,
    now: datetime,
    groups: dict[str, LiteralString],
    depth: int | None = None,
) -> list[Row]:
    """`ticket_figures` of the subtree of `code`, per value of each expression of
    `groups` (CHILD, LOCAL_MONTH), which each row carries under its name; in one query."""
    keys = sql.SQL(", ").join(
        sql.SQL("{} AS {}").format(sql.SQL(expression), sql.Identifier(name))
        for name, expression in groups.items()
    )
    body = TICKET_FIGURES.strip().removeprefix("SELECT ")
    order = sql.SQL(", ").join(sql.Literal(n) for n in range(1, len(groups) + 1))
    query = sql.SQL("SELECT {}, {} GROUP BY {} ORDER BY {}").format(
        keys,
        joined(body, NOW_ROWS if period.as_of is None else AS_OF_ROWS, COHORT, IN_SUBTREE),
        order,
        order,
    )
    params = {**period.params(), "code": code, "depth": depth, "now": period.as_of or now}
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params, prepare=False).fetchall()


def monthly_series(
    conn: Connection, code: str, depth: int, period: Period, terms: dict[str, Any], now: datetime
) -> list[Row]:
    """Per child jurisdiction of `code` (at `depth`, its position in the path counted
    from 1; a grid is its own child) and per month (Asia/Shanghai) of report: the three
    rates and the overdue counts, by the same SQL as a scorecard."""
    series = []
    for raw in figures_by(conn, period, code, now, {"child": CHILD, "month": LOCAL_MONTH}, depth):
        rates = ticket_rates(raw, terms)
        series.append(
            {
                "jurisdiction": raw["child"],
                "month": raw["month"],
                "received": raw["received"],
                "overdue_open": raw["overdue_open"],
                "resolution_overdue": raw["due_decided"] - raw["on_time"],
                "response_in_time_rate": rates["response_in_time_rate"]["value"],
                "handling_rate": rates["handling_rate"]["value"],
                "satisfaction_rate": rates["satisfaction_rate"]["value"],
                "three_rates_score": rates["three_rates_score"]["value"],
            }
        )
    return series
