"""Members (residents, party members, ...) and their report-ins and roles."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from api.http.schemas.common import Body, Code, Name
from domain.member import MemberKind, Role

Phone = Annotated[
    str, StringConstraints(pattern=r"^\+?[0-9]{5,20}$"), Field(examples=["13800138000"])
]


class MemberIn(Body):
    name: Name = Field(examples=["王秀英"])
    phone: Phone
    kind: MemberKind = Field(examples=["resident"])
    party_member: bool = False
    home_grid: Code | None = Field(default=None, description="The grid they live in.")


class MemberReportIn(Body):
    community: Code = Field(examples=["HG-WH-BH"])
    grid: Code | None = Field(default=None, examples=["HG-WH-BH-01"])
    organisation_id: UUID | None = None


class RoleClaimIn(Body):
    role: Role = Field(examples=["building_head"])
    jurisdiction: Code
    title: Name | None = Field(default=None, examples=["3号楼楼栋长"])


class RoleReleaseIn(Body):
    role: Role = Field(examples=["building_head"])
    jurisdiction: Code


class ReportInOut(BaseModel):
    community: str
    grid: str | None = None
    organisation_id: UUID | None = None
    reported_at: datetime


class HeldRole(BaseModel):
    role: str
    jurisdiction: str
    community: str | None = None
    title: str | None = None
    claimed_at: datetime


class MemberOut(BaseModel):
    id: UUID
    name: str = Field(examples=["王秀英"])
    phone: str = Field(examples=["13800138000"])
    kind: str = Field(examples=["resident"])
    party_member: bool
    home_grid: str | None
    home_community: str | None
    report_ins: list[ReportInOut]
    roles: list[HeldRole]
    volunteer_hours: float = Field(examples=[12.5])
    activity_hours: float
    pledge_hours: float
    points_balance: int = Field(examples=[120])
    registered_at: datetime
    version: int
    erased_at: datetime | None = Field(
        default=None, description="When the member's personal data was erased (then `erased`)."
    )
