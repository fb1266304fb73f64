"""Activities (活动) and their attendance (签到/签退), for `GET /v1/activities/{id}`.

`activities` has one current row per activity with its attendance totals:
`attendee_count` (members checked in), `completed_count` (checked out with more than
zero hours; set from the `Closed` event's list when it closes) and `total_hours` (the
sum of attendees' hours). `activity_attendance` has one row per attendee, in check-in
order by `checked_in_position`; `hours` stays null until check-out and is 0.00 for an
attendee who had not checked out when the activity closed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import sql

from domain.activity import Activity
from projections.engine.batch import Batch, Projection
from projections.views.jurisdictions import in_community_of, in_subtree
from projections.views.reading import Connection, Found, Page, Reach, Row, conditions, matching, one

SCHEDULED = Activity.Scheduled
CHECKED_IN = Activity.CheckedIn
CHECKED_OUT = Activity.CheckedOut
CLOSED = Activity.Closed
CANCELLED = Activity.Cancelled
ZERO = Decimal("0.00")

ATTENDANCE_COLUMNS = [
    "activity_id",
    "member_id",
    "checked_in_at",
    "checked_out_at",
    "hours",
    "completed",
    "checked_in_position",
]


class Activities(Projection):
    name = "activities"
    tables = {
        "activities": (
            "CREATE TABLE IF NOT EXISTS {activities} ("
            " id uuid PRIMARY KEY, title text NOT NULL, jurisdiction text NOT NULL,"
            " community text NOT NULL, starts_at timestamptz NOT NULL,"
            " ends_at timestamptz NOT NULL, points_rule text, status text NOT NULL,"
            " attendee_count int NOT NULL, completed_count int NOT NULL,"
            " total_hours numeric(10,2) NOT NULL, scheduled_at timestamptz NOT NULL,"
            " closed_at timestamptz, cancelled_at timestamptz, cancellation_reason text,"
            " version int NOT NULL, last_position bigint NOT NULL)"
        ),
        "activity_attendance": (
            "CREATE TABLE IF NOT EXISTS {activity_attendance} ("
            " activity_id uuid NOT NULL, member_id uuid NOT NULL,"
            " checked_in_at timestamptz NOT NULL, checked_out_at timestamptz,"
            " hours numeric(10,2), completed boolean NOT NULL,"
            " checked_in_position bigint NOT NULL, PRIMARY KEY (activity_id, member_id))"
        ),
    }
    indexes = [
        "CREATE INDEX IF NOT EXISTS activities_g{g}_community"
        " ON {activities} (community, starts_at)",
        "CREATE INDEX IF NOT EXISTS activities_g{g}_jurisdiction"
        " ON {activities} (jurisdiction, starts_at)",
        "CREATE INDEX IF NOT EXISTS activity_attendance_g{g}_member"
        " ON {activity_attendance} (member_id)",
    ]
    event_types = (Activity.Event,)

    def apply(self, batch: Batch) -> None:
        rows = batch.fetch(
            "activities",
            "id",
            (r.event.originator_id for r in batch.events if type(r.event) is not SCHEDULED),
        )
        touched: dict[Any, dict[str, Any]] = {}
        arrived: dict[tuple[Any, Any], list[Any]] = {}
        left: dict[tuple[Any, Any], dict[str, Any]] = {}
        closed: list[Any] = []
        for r in batch.events:
            e = r.event
            kind = type(e)
            if kind is SCHEDULED:
                row = rows[e.originator_id] = _scheduled(e)
            else:
                row = rows[e.originator_id]
            if kind is CHECKED_IN:
                row["attendee_count"] += 1
                arrived[(e.originator_id, e.member_id)] = [
                    e.originator_id, e.member_id, e.at, None, None, False, r.position,
                ]  # fmt: skip
            elif kind is CHECKED_OUT:
                _check_out(row, e, arrived, left)
            elif kind is CLOSED:
                row["status"] = "closed"
                row["closed_at"] = e.timestamp
                row["completed_count"] = len(e.completed)
                row["attendee_count"] = len(e.completed) + len(e.not_completed)
                closed.append(e.originator_id)
            elif kind is CANCELLED:
                row["status"] = "cancelled"
                row["cancelled_at"] = e.timestamp
                row["cancellation_reason"] = e.reason
            row["version"] = e.originator_version
            row["last_position"] = r.position
            touched[e.originator_id] = row
        if arrived:
            batch.copy("activity_attendance", ATTENDANCE_COLUMNS, arrived.values())
        batch.update("activity_attendance", ["activity_id", "member_id"], list(left.values()))
        if closed:
            batch.cur.execute(
                batch.sql(
                    "UPDATE {activity_attendance} SET hours = 0"
                    " WHERE activity_id = ANY(%s) AND hours IS NULL"
                ),
                (closed,),
            )
        batch.upsert("activities", ["id"], list(touched.values()))


def _check_out(
    row: dict[str, Any],
    e: Any,
    arrived: dict[tuple[Any, Any], list[Any]],
    left: dict[tuple[Any, Any], dict[str, Any]],
) -> None:
    """Count a check-out in the activity's `row`, and complete its attendance row: the
    one the batch adds (`arrived`), else the stored one (`left`: updated after)."""
    row["total_hours"] += e.hours
    row["completed_count"] += int(e.hours > 0)
    key = (e.originator_id, e.member_id)
    if key in arrived:
        arrived[key][3:6] = [e.at, e.hours, e.hours > 0]
    else:
        left[key] = {
            "checked_out_at": e.at,
            "hours": e.hours,
            "completed": e.hours > 0,
            "activity_id": e.originator_id,
            "member_id": e.member_id,
        }


def _scheduled(e: Any) -> dict[str, Any]:
    return {
        "id": e.originator_id,
        "title": e.title,
        "jurisdiction": e.jurisdiction,
        "community": e.community,
        "starts_at": e.starts_at,
        "ends_at": e.ends_at,
        "points_rule": e.points_rule,
        "status": "scheduled",
        "attendee_count": 0,
        "completed_count": 0,
        "total_hours": ZERO,
        "scheduled_at": e.timestamp,
        "closed_at": None,
        "cancelled_at": None,
        "cancellation_reason": None,
    }


# --- reads: the queries of the HTTP API ---

ACTIVITIES = sql.SQL("SELECT * FROM activities")
ITS_JURISDICTION = sql.SQL("(SELECT a.jurisdiction FROM activities a WHERE a.id = activity_id)")


def activity(conn: Connection, activity_id: UUID) -> Row | None:
    return one(conn, "SELECT * FROM activities WHERE id = %s", activity_id)


def attendance(conn: Connection, activity_id: UUID, reach: Reach) -> list[Row]:
    """The activity's attendance that `reach` sees (all of it within its scope; a
    member's own), in the order of check-in."""
    return matching(
        conn,
        "SELECT * FROM activity_attendance",
        ("activity_id = %s", activity_id),
        in_community_of(reach, ITS_JURISDICTION, sql.Identifier("member_id")),
        order=" ORDER BY checked_in_position",
    )


def activities(
    conn: Connection,
    *,
    jurisdiction: str | None,
    status: str | None,
    starts_from: datetime | None,
    starts_to: datetime | None,
    limit: int,
    cursor: str | None,
) -> Found:
    """Activities (public notices) by start time: in the subtree of `jurisdiction`, in
    `status`, starting in [`starts_from`, `starts_to`)."""
    clauses, params = conditions(
        (in_subtree(sql.Identifier("jurisdiction")), jurisdiction),
        ("status = %s", status),
        ("starts_at >= %s", starts_from),
        ("starts_at < %s", starts_to),
    )
    return Page(["starts_at", "id"]).fetch(conn, ACTIVITIES, clauses, params, limit, cursor)
