"""Activities (活动) and attendance (签到/签退)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from api.http.schemas.common import STORABLE, Answer, Body, Code, Instant, Name, Note, length

RuleCode = Annotated[str, length(64), STORABLE]


class ActivityIn(Body):
    title: Name = Field(examples=["楼道清洁志愿服务"])
    jurisdiction: Code = Field(description="A community or grid.", examples=["HG-WH-BH-01"])
    starts_at: Instant
    ends_at: Instant
    points_rule: RuleCode | None = Field(
        default=None,
        description="A rule of the community's rulebook with the activity_attendance trigger.",
        examples=["volunteer_attendance"],
    )


class AttendanceIn(Body):
    member_id: UUID
    at: Instant | None = Field(default=None, description="Field time; default: now.")


class CancelIn(Body):
    reason: Note = Field(examples=["暴雨取消"])


class CheckOutAnswer(Answer):
    hours: float | None = Field(default=None, examples=[2.0])


class CloseAnswer(Answer):
    attendees: int | None = None
    completed: int | None = None
    awarded: int | None = None


class AttendanceOut(BaseModel):
    member_id: UUID
    checked_in_at: datetime
    checked_out_at: datetime | None
    hours: float | None
    completed: bool


class ActivityOut(BaseModel):
    id: UUID
    title: str
    jurisdiction: str
    community: str
    starts_at: datetime
    ends_at: datetime
    points_rule: str | None
    status: str = Field(examples=["scheduled"])
    attendee_count: int
    completed_count: int
    total_hours: float
    closed_at: datetime | None
    cancelled_at: datetime | None
    version: int
    attendance: list[AttendanceOut] = []
