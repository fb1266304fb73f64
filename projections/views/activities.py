"""Activities (活动) and their attendance (签到/签退), for `GET /v1/activities/{id}`.

`activities` has one current row per activity with its attendance totals:
`attendee_count` (members checked in), `completed_count` (checked out with more than
zero hours; set from the `Closed` event's list when it closes) and `total_hours` (the
sum of attendees' hours). `activity_attendance` has one row per attendee, in check-in
order by `checked_in_position`; `hours` stays null until check-out and is 0.00 for an
attendee who had not checked out when the activity closed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.activity import Activity
from projections.engine.batch import Batch, Projection

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
