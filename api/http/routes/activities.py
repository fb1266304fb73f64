"""Activities (活动): schedule, check members in and out, close (awarding points) or
cancel; read with attendance, list."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from api.http.actions import add_action
from api.http.deps import CallerDep
from api.http.problems import COMMAND, QUERY
from api.http.reads import Cursor, Limit, found, reader
from api.http.routing import OneHopRoute
from api.http.schemas.activities import (
    ActivityIn,
    ActivityOut,
    AttendanceIn,
    CancelIn,
    CheckOutAnswer,
    CloseAnswer,
)
from api.http.schemas.common import Answer, Code, Instant, PageOf, created
from api.http.visibility import Viewer, ViewerDep
from domain.activity import ActivityStatus
from domain.application import Governance
from domain.commands.base import CommandResult
from projections.views import activities
from projections.views.reading import Connection, Row

router = APIRouter(prefix="/v1", tags=["activities"], route_class=OneHopRoute)

Activities = Annotated[Connection, reader("activities", "jurisdictions")]


@router.post("/activities", status_code=201, responses=COMMAND, name="schedule_activity")
def schedule_activity(body: ActivityIn, caller: CallerDep, response: Response) -> Answer:
    """Schedule an activity in a community or grid."""
    result = caller.run("schedule_activity", place=body.jurisdiction, **body.model_dump())
    return created(response, result, f"/v1/activities/{result.id}")


def _activity(governance: Governance, activity_id: UUID) -> tuple[str, object]:
    return governance.activity(activity_id).jurisdiction, None


def _attendance(
    command: str, caller: CallerDep, activity_id: UUID, body: AttendanceIn
) -> CommandResult:
    place, _ = caller.located(activity_id, _activity)
    fields = body.model_dump()
    member = body.member_id
    return caller.run(command, activity_id, place=place, owner=member, member=member, **fields)


@router.post("/activities/{id}/check-ins", responses=COMMAND, name="check_in")
def check_in(id: UUID, body: AttendanceIn, caller: CallerDep) -> Answer:
    """Check a member in (签到); a resident checks only themselves in."""
    return Answer.of(_attendance("check_in", caller, id, body))


@router.post("/activities/{id}/check-outs", responses=COMMAND, name="check_out")
def check_out(id: UUID, body: AttendanceIn, caller: CallerDep) -> CheckOutAnswer:
    """Check a member out (签退); answers the hours the attendance counts."""
    return CheckOutAnswer.of(_attendance("check_out", caller, id, body))


add_action(
    router,
    "activities",
    "close",
    "close_activity",
    None,
    _activity,
    "Close a started activity; awards its points rule to every attendee, atomically.",
    CloseAnswer,
)
add_action(
    router,
    "activities",
    "cancel",
    "cancel_activity",
    CancelIn,
    _activity,
    "Cancel a scheduled activity nobody has checked in to.",
)


def _with_attendance(conn: Connection, activity: Row, viewer: Viewer) -> ActivityOut:
    attendance = activities.attendance(conn, activity["id"], viewer.reach)
    return ActivityOut.model_validate({**activity, "attendance": attendance})


@router.get("/activities/{activity_id}", responses=QUERY)
def get_activity(activity_id: UUID, conn: Activities, viewer: ViewerDep) -> ActivityOut:
    """An activity (a public notice) with its status and the attendance the caller may
    read (who, in, out, hours): all of it within the caller's scope, a resident's own."""
    row = activities.activity(conn, activity_id)
    return _with_attendance(conn, found(row, "Activity", activity_id), viewer)


@router.get("/activities", responses=QUERY)
def list_activities(
    conn: Activities,
    jurisdiction: Annotated[Code | None, Query(description="Within this subtree.")] = None,
    status: ActivityStatus | None = None,
    starts_from: Annotated[Instant | None, Query(alias="from")] = None,
    starts_to: Annotated[Instant | None, Query(alias="to")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOf[ActivityOut]:
    """Activities by start time (without attendance: read one for that)."""
    items, next_cursor = activities.activities(
        conn,
        jurisdiction=jurisdiction,
        status=status,
        starts_from=starts_from,
        starts_to=starts_to,
        limit=limit,
        cursor=cursor,
    )
    return PageOf[ActivityOut](items=[ActivityOut(**r) for r in items], next_cursor=next_cursor)
