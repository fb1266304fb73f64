"""Jurisdictions: the tree (district > street > community > grid) and its rosters."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from api.http.schemas.common import Body, Code, Name
from domain.jurisdiction import Kind


class JurisdictionIn(Body):
    code: Code
    kind: Kind = Field(examples=["grid"])
    name: Name = Field(examples=["北环一网格"])
    parent: Code | None = Field(
        default=None,
        description="The parent's code; null only for a district.",
        examples=["HG-WH-BH"],
    )


class JurisdictionOut(BaseModel):
    code: str = Field(examples=["HG-WH-BH-01"])
    kind: str = Field(examples=["grid"])
    name: str = Field(examples=["北环一网格"])
    parent: str | None = Field(examples=["HG-WH-BH"])
    path: list[str] = Field(examples=[["HG", "HG-WH", "HG-WH-BH", "HG-WH-BH-01"]])
    depth: int = Field(examples=[3])
    version: int = Field(examples=[1])


class RosterEntry(BaseModel):
    kind: Literal["member", "organisation"]
    id: UUID
    name: str | None = Field(examples=["王秀英"])
    community: str = Field(examples=["HG-WH-BH"])
    grid: str | None = Field(default=None, examples=["HG-WH-BH-01"])
    organisation_id: UUID | None = None
    reported_at: datetime
    position: int
