"""The trial balance and the anomaly report of the points ledger."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from projections.analysis.trial_balance import Detail


class TrialBalanceAccount(BaseModel):
    community: str = Field(examples=["HG-WH-BH"])
    account: str = Field(examples=["community:HG-WH-BH:issuance"])
    account_type: str = Field(examples=["issuance"], description="issuance | member |"
                              " redeemed | expired | deducted")  # fmt: skip
    member_id: UUID | None = None
    accounts: int = Field(1, description="Accounts on this line (detail=type: a community's"
                          " members together).")  # fmt: skip
    debits: int = Field(description="Points that flowed into the account.")
    credits: int = Field(description="Points that flowed out of the account.")
    balance: int = Field(description="debits - credits")


class TrialBalanceCommunity(BaseModel):
    community: str
    issued: int = Field(description="Minus the issuance account's balance.")
    held: int = Field(description="The member accounts' balances together.")
    redeemed: int
    expired: int
    deducted: int
    balanced: bool = Field(description="issued = held + redeemed + expired + deducted")


class TrialBalanceOut(BaseModel):
    jurisdiction: str | None
    as_of: datetime | None = Field(description="Postings recorded after it are not counted.")
    detail: Detail
    accounts: list[TrialBalanceAccount]
    communities: list[TrialBalanceCommunity]
    debits: int
    credits: int
    balance: int = Field(description="Always 0 for a ledger that reconciles.")
    postings: int = Field(description="Posting legs counted.")
    last_position: int = Field(description="The greatest position counted (0: none).")


class AnomalyOut(BaseModel):
    kind: str = Field(examples=["self_award"])
    community: str | None
    subject: str = Field(description="The entry (`entry <id> (<kind>)`) or the actor.")
    position: int | None
    recorded_at: datetime | None
    actor: str | None
    detail: str
    ends_at: datetime | None = Field(default=None, description="A burst's last award.")


class AnomaliesOut(BaseModel):
    jurisdiction: str | None
    from_: datetime | None = Field(alias="from", serialization_alias="from")
    to: datetime | None
    burst_awards: int
    burst_minutes: int
    counts: dict[str, int] = Field(description="Anomalies found, by kind (every kind named).")
    items: list[AnomalyOut]
