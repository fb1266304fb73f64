"""Personal data: erasure requests and receipts, reasoned reads and their record."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from api.http.schemas.common import STORABLE, Body, length


class ErasureIn(Body):
    legal_basis: Annotated[str, length(500, 5), STORABLE] = Field(
        examples=["PIPL Art. 47(1): the data subject withdrew consent (request #2026-118)"],
        description="Why the data is erased: the law's ground and the request it answers.",
    )


class Receipt(BaseModel):
    subject_id: UUID
    erasure_position: int = Field(description="Position of the Member.Erased event.")
    erased_at: datetime
    erased_by: str
    legal_basis: str
    data_key: str | None = Field(description="Id of the shredded data key (null: none).")
    affected_positions: list[int] = Field(
        description="Positions of the stored events holding data sealed under that key: "
        "they stay in the log, byte for byte, and can no longer be read."
    )


class ErasureReceipt(BaseModel):
    """A receipt signed (Ed25519) with the key that signs checkpoints: `signature` is
    over the receipt's JSON with keys sorted and no spaces (`GET /v1/audit/public-key`)."""

    receipt: Receipt
    key_id: str
    signature: str


class PersonalDataOut(BaseModel):
    id: UUID
    name: str = Field(examples=["王秀英"])
    phone: str = Field(examples=["13800138000"])
    erased: bool
    read_position: int = Field(description="Position of the PersonalDataRead recorded.")


class PersonalDataRead(BaseModel):
    position: int
    read_id: UUID
    subject_id: UUID
    fields: list[str]
    reason: str
    actor_id: str | None
    actor_role: str | None
    recorded_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> PersonalDataRead:
        payload = row["payload"]
        return cls(
            position=row["position"],
            read_id=row["aggregate_id"],
            subject_id=UUID(payload["subject_id"]["_data_"]),
            fields=payload["fields"],
            reason=payload["reason"],
            actor_id=row["actor_id"],
            actor_role=row["actor_role"],
            recorded_at=row["recorded_at"],
        )
