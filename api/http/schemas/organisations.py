"""Organisations (驻区单位) and their report-ins with needs, resources and projects."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from api.http.schemas.common import Body, Code, Name

Items = Annotated[list[Name], Field(max_length=50, examples=[["助老服务"]])]


class OrganisationIn(Body):
    name: Name = Field(examples=["海港区税务局"])


class OrganisationReportIn(Body):
    community: Code = Field(examples=["HG-WH-BH"])
    needs: Items = []
    resources: Items = []
    projects: Items = []


class OrganisationReportInOut(BaseModel):
    community: str
    needs: list[str]
    resources: list[str]
    projects: list[str]
    reported_at: datetime


class OrganisationOut(BaseModel):
    id: UUID
    name: str
    report_ins: list[OrganisationReportInOut]
    registered_at: datetime
    version: int
