"""Pledges (承诺/践诺): making, accepting, service sessions, verification, review."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.http.schemas.common import Answer, Body, Code, Day, Name, Note
from domain.pledge_rules import PledgeKind

Hours = Annotated[Decimal, Field(gt=0, max_digits=6, decimal_places=2, examples=["2.5"])]


class PledgeIn(Body):
    member_id: UUID
    community: Code = Field(examples=["HG-WH-BH"])
    kind: PledgeKind = Field(examples=["service_item"])
    title: Name = Field(examples=["每周为独居老人送餐"])
    target_hours: Annotated[Hours, Field(le=10_000)]
    due_on: Day


class SessionIn(Body):
    hours: Annotated[Hours, Field(le=24)]
    on: Day
    note: Note | None = None


class WithdrawIn(Body):
    reason: Note = Field(examples=["工作调动"])


class ReviewIn(Body):
    rating: int = Field(ge=1, le=5, examples=[5])
    comment: Note | None = None


class SessionAnswer(Answer):
    session_no: int | None = Field(default=None, examples=[1])


class StatusAnswer(Answer):
    status: str | None = Field(default=None, examples=["fulfilled"])


class SessionOut(BaseModel):
    session_no: int
    hours: float
    on: date
    note: str | None
    logged_at: datetime
    verified: bool
    verified_by: str | None
    verified_at: datetime | None


class PledgeOut(BaseModel):
    id: UUID
    member_id: UUID
    community: str
    kind: str
    title: str
    status: str = Field(examples=["accepted"])
    target_hours: float
    verified_hours: float
    logged_hours: float
    due_on: date
    pledged_at: datetime
    accepted_at: datetime | None
    fulfilled_at: datetime | None
    lapsed_at: datetime | None
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    review: dict[str, Any] | None
    version: int
    sessions: list[SessionOut] = []
