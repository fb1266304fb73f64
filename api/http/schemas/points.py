"""Civility points (文明积分): rules, awards, deductions, redemptions, accounts, ledgers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.http.schemas.common import STORABLE, Answer, Body, Code, Day, Name, Note, length
from domain.rulebook import RuleKind, Trigger
from projections.analysis.flat_table import Column, Kind

Points = Annotated[int, Field(ge=1, le=1_000_000, examples=[10])]
Cap = Annotated[int | None, Field(default=None, ge=1, le=10_000_000)]
RuleCode = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", examples=["garbage_sorting"]),
]


class Caps(Body):
    per_day: Cap = None
    per_month: Cap = None
    per_year: Cap = None


class RuleIn(Body):
    description: Note = Field(examples=["垃圾分类投放正确"])
    points: Points
    kind: RuleKind = Field(examples=["award"])
    caps: Caps = Field(default_factory=Caps)
    requires_approval: bool = False
    trigger: Trigger = Field(default=Trigger.MANUAL, examples=["manual"])


SourceKind = Annotated[str, length(50), STORABLE]
SourceId = Annotated[str, length(200), STORABLE]


class Source(Body):
    kind: SourceKind = Field(examples=["inspection"])
    id: SourceId = Field(examples=["2026-03-01/3-2-501"])


class AwardIn(Body):
    member_id: UUID
    community: Code = Field(examples=["HG-WH-BH"])
    rule_code: RuleCode
    source: Source
    quantity: int = Field(default=1, ge=1, le=1000)
    note: Note | None = None


class DeductionIn(Body):
    member_id: UUID
    community: Code = Field(examples=["HG-WH-BH"])
    rule_code: RuleCode
    source: Source
    note: Note = Field(examples=["高空抛物"])


class RedemptionIn(Body):
    member_id: UUID
    community: Code = Field(examples=["HG-WH-BH"])
    item: Name = Field(examples=["洗衣液一瓶"])
    points: Points


class ReversalIn(Body):
    entry_id: UUID
    reason: Note = Field(examples=["重复录入"])


class RejectAwardIn(Body):
    reason: Note = Field(examples=["证据不足"])


class ExpiryIn(Body):
    community: Code = Field(examples=["HG-WH-BH"])
    before: Day = Field(description="Points earned before this local date expire.")


class RuleAnswer(Answer):
    rule_code: str | None = None
    rule_version: int | None = None


class EntryAnswer(Answer):
    entry_id: UUID | None = Field(default=None, description="The points entry recorded.")
    status: str | None = Field(default=None, examples=["pending"])


class ExpiryAnswer(BaseModel):
    community: str
    before: date
    accounts: int = Field(description="Accounts that had points to expire.")
    points: int = Field(description="Points expired in all.")
    position: int = Field(description="The position of the last event recorded (0: none).")


class RuleOut(BaseModel):
    rule_code: str
    version: int
    description: str | None
    points: int | None
    kind: str | None
    per_day: int | None
    per_month: int | None
    per_year: int | None
    requires_approval: bool | None
    trigger: str | None
    effective_from: datetime
    effective_until: datetime | None


class RulebookOut(BaseModel):
    community: str
    as_of: datetime | None
    rules: list[RuleOut]


class AccountOut(BaseModel):
    member_id: UUID
    balance: int
    earned: int
    deducted: int
    redeemed: int
    expired: int
    pending: int
    communities: list[dict[str, Any]] = Field(
        default_factory=list, description="The same totals per community."
    )


class LedgerEntry(BaseModel):
    entry_id: UUID
    position: int
    recorded_at: datetime
    community: str
    kind: str = Field(examples=["award"])
    status: str
    points: int
    delta: int
    balance_after: int
    rule_code: str | None
    rule_version: int | None
    source: dict[str, Any]
    awarded_by: str | None
    approved_by: str | None
    note: str | None = None
    item: str | None = None
    reason: str | None = None


class EntryOut(BaseModel):
    entry_id: UUID
    member_id: UUID
    community: str
    kind: str
    status: str
    points: int
    rule_code: str | None
    rule_version: int | None
    source: dict[str, Any]
    awarded_by: str | None
    approved_by: str | None
    recorded_at: datetime
    reversed_by: UUID | None


class LeaderboardRow(BaseModel):
    member_id: UUID
    name: str | None
    points: int


LEDGER_COLUMNS = (
    Column("position", "Position", "位置", Kind.INT),
    Column("recorded_at", "Recorded at", "记录时间", Kind.DATETIME),
    Column("community", "Community", "社区"),
    Column("entry_id", "Entry", "分录编号", width=38),
    Column("kind", "Kind", "类型"),
    Column("status", "Status", "状态"),
    Column("points", "Points", "积分", Kind.INT),
    Column("delta", "Change", "变动", Kind.INT),
    Column("balance_after", "Balance after", "变动后余额", Kind.INT),
    Column("rule_code", "Rule", "规则"),
    Column("rule_version", "Rule version", "规则版本", Kind.INT),
    Column("source_kind", "Source kind", "来源类型"),
    Column("source_id", "Source", "来源"),
    Column("awarded_by", "Awarded by", "发放人"),
    Column("approved_by", "Approved by", "审核人"),
    Column("note", "Note", "备注", width=30),
    Column("item", "Item", "兑换物品"),
    Column("reason", "Reason", "原因", width=30),
)
"""A member's ledger as a file: `LedgerEntry` with its source in two columns."""

LEADERBOARD_COLUMNS = (
    Column("rank", "Rank", "名次", Kind.INT),
    Column("member_id", "Member", "成员编号", width=38),
    Column("name", "Name", "姓名"),
    Column("points", "Points", "积分", Kind.INT),
)
"""The leaderboard as a file: `LeaderboardRow` with its rank."""
