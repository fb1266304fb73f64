"""Tickets (网格事项): reports, handling actions, the current row and the timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.http.schemas.common import STORABLE, Body, Code, Name, Note, PageOf, length
from domain.ticket_policy import Level, Priority, RejectionReason, Satisfaction, Source

Category = Annotated[str, length(50), STORABLE]
Assignee = Annotated[str, length(100), STORABLE]


class Location(Body):
    address: Name = Field(examples=["北环路 3 号"])
    lat: float = Field(ge=-90, le=90, examples=[39.93])
    lon: float = Field(ge=-180, le=180, examples=[119.6])


class TicketIn(Body):
    category: Category = Field(examples=["环境卫生"])
    description: Note = Field(examples=["楼道堆物"])
    grid: Code
    location: Location | None = None
    source: Source = Field(examples=["grid_worker"])
    priority: Priority = Priority.NORMAL
    reporter_member_id: UUID | None = Field(
        default=None, description="The reporting member (a resident's own id by default)."
    )


class RejectIn(Body):
    reason: RejectionReason
    duplicate_of: UUID | None = None


class DispatchIn(Body):
    level: Level = Field(examples=["grid"])
    assignee: Assignee = Field(examples=["grid-worker-17"])


class NoteIn(Body):
    note: Note = Field(examples=["已到现场"])


class EscalateIn(Body):
    to_level: Level = Field(examples=["street"])
    reason: Note = Field(examples=["需要城管执法"])


class ResolveIn(Body):
    resolution: Note = Field(examples=["堆物已清理"])


class RateIn(Body):
    satisfaction: Satisfaction
    comment: Note | None = None


class ReasonIn(Body):
    reason: Note = Field(examples=["居民反映问题复发"])


class TicketOut(BaseModel):
    id: UUID
    status: str = Field(examples=["dispatched"])
    category: str
    grid: str
    level: str | None
    assignee: str | None
    source: str
    priority: str
    reported_at: datetime
    respond_due_at: datetime
    responded_at: datetime | None
    resolve_due_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    satisfaction: str | None
    response_overdue: bool
    resolution_overdue: bool
    version: int
    community: str
    street: str | None
    district: str
    description: str
    reporter_member_id: UUID | None
    location: dict[str, Any] | None
    resolution: str | None
    reopen_count: int
    escalation_count: int


class TimelineEntry(BaseModel):
    position: int
    version: int
    event_type: str = Field(examples=["Dispatched"])
    actor_id: str | None
    actor_role: str | None
    recorded_at: datetime
    occurred_at: datetime | None
    details: dict[str, Any]
    audit_state: str = Field(
        description="The ticket's state right after this event, from the audit log",
        examples=["/v1/audit/streams/0b7c5d9e-3f51-4a8e-9d5c-2f1a4e6b7c80/state?version=3"],
    )


class TimelinePage(PageOf[TimelineEntry]):
    """One page of a ticket's timeline, linked to the audit log's record of the same
    events (auditors and admins may follow the links; others get 403 there)."""

    audit_stream: str = Field(
        description="Every event of this ticket as stored, with its payload",
        examples=["/v1/audit/streams/0b7c5d9e-3f51-4a8e-9d5c-2f1a4e6b7c80"],
    )
