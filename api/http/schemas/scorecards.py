"""What the assessment routes answer: policies and scorecards (figures defined in the
README's "Evaluating" section). Field names are those the routes answered before these
models existed; they are binding."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.assessment_policy import DEFAULT_TERMS


class Rate(BaseModel):
    value: float | None = Field(
        examples=[0.9412], description="numerator / denominator; null when `reason` says why."
    )
    numerator: float = Field(
        examples=[160], description="A count (the satisfaction rate's: satisfied + k x basic)."
    )
    denominator: int = Field(examples=[170])
    reason: str | None = Field(
        examples=["fewer than 5 cases (the policy's minimum)"],
        description="Why `value` is null (no cases, or fewer than the policy's minimum).",
    )


class ThreeRatesScore(BaseModel):
    value: float | None = Field(examples=[0.9215])
    weights: dict[str, float] = Field(examples=[DEFAULT_TERMS["weights"]])
    reason: str | None = Field(examples=[None], description="Which rate is missing, if any.")


class EscalationRates(BaseModel):
    community: Rate
    street: Rate
    department: Rate


class Rates(BaseModel):
    response_in_time_rate: Rate
    on_time_resolution_rate: Rate
    handling_rate: Rate
    grid_handling_rate: Rate
    escalation_rate: EscalationRates = Field(description="Per level escalated to.")
    satisfaction_rate: Rate
    reopen_rate: Rate
    three_rates_score: ThreeRatesScore


class TicketCounts(BaseModel):
    received: int = Field(examples=[180])
    accepted: int = Field(examples=[176])
    rejected: int = Field(examples=[4])
    dispatched: int = Field(examples=[175])
    closed: int = Field(examples=[160])
    rated: int = Field(examples=[60])
    overdue_open: int = Field(examples=[2])


class Times(BaseModel):
    avg_response_hours: float | None = Field(examples=[0.75])
    p90_response_hours: float | None = Field(examples=[1.4])
    avg_resolution_hours: float | None = Field(examples=[20.5])
    p90_resolution_hours: float | None = Field(examples=[60.0])


class PeriodOut(BaseModel):
    """The period's bounds as instants: tickets reported in [from, to)."""

    model_config = ConfigDict(populate_by_name=True)

    start: datetime = Field(alias="from", examples=["2025-12-31T16:00:00Z"])
    end: datetime = Field(alias="to", examples=["2026-12-31T16:00:00Z"])


class PolicyTerms(BaseModel):
    model_config = ConfigDict(extra="allow")

    weights: dict[str, float] = Field(examples=[DEFAULT_TERMS["weights"]])
    basically_satisfied_weight: float = Field(examples=[0.8], description="k")
    min_cases: int = Field(examples=[5])
    stars: list[dict[str, Any]] = Field(
        examples=[DEFAULT_TERMS["stars"]], description="Star n's figure and threshold."
    )


class PolicyUsed(BaseModel):
    jurisdiction: str | None = Field(
        examples=["HG1"], description="Whose policy it is (null: the built-in default)."
    )
    version: int = Field(examples=[1], description="0: the built-in default")
    effective_from: datetime | None
    terms: PolicyTerms


class PledgeFigures(BaseModel):
    made: int = Field(examples=[12])
    fulfilment_rate: Rate


class Volunteering(BaseModel):
    verified_hours: float = Field(examples=[86.5], description="pledge_hours + activity_hours")
    pledge_hours: float = Field(examples=[40.0])
    activity_hours: float = Field(examples=[46.5])
    participations: int = Field(examples=[35], description="Activity check-ins.")
    participants: int = Field(examples=[21], description="Distinct members checked in.")


class PointsFigures(BaseModel):
    issued: int = Field(examples=[1200])
    redeemed: int = Field(examples=[300])
    deducted: int = Field(examples=[25])


class StarRuleOut(BaseModel):
    star: int = Field(examples=[2])
    rule: str = Field(examples=["response_in_time_rate >= 0.9"])
    figure: str = Field(examples=["response_in_time_rate"])
    value: float | None = Field(examples=[0.94])
    threshold: float = Field(examples=[0.9])
    met: bool
    reason: str | None = Field(examples=[None], description="Why the figure is null, if it is.")


class Stars(BaseModel):
    earned: int = Field(examples=[3], description="Stars 1..earned all met, in order.")
    of: int = Field(examples=[5])
    rules: list[StarRuleOut]


class CardFigures(BaseModel):
    """What every scorecard answers."""

    period: PeriodOut
    as_of: datetime | None = Field(description="As the record stood then (null: now).")
    policy: PolicyUsed
    tickets: TicketCounts
    rates: Rates
    times: Times


class ScorecardOut(CardFigures):
    jurisdiction: str = Field(examples=["HG1-01"])
    kind: str = Field(examples=["street"])
    pledges: PledgeFigures
    volunteering: Volunteering
    points: PointsFigures


class WorkerScorecardOut(CardFigures):
    member_id: UUID
    stars: Stars
    volunteering: Volunteering = Field(
        description="The worker's own verified pledge hours and activity attendance."
    )
    points: PointsFigures = Field(
        description="Points posted to, redeemed and deducted from the worker's own accounts"
        " (net of reversals)."
    )


class PolicyVersion(BaseModel):
    version: int = Field(examples=[2])
    effective_from: datetime
    effective_until: datetime | None = Field(description="null: still in force")
    terms: PolicyTerms


class PolicyOut(BaseModel):
    jurisdiction: str = Field(examples=["HG1-01"])
    as_of: datetime | None
    version: int = Field(examples=[1], description="0: the built-in default (no policy recorded)")
    effective_from: datetime | None
    defined_at: str | None = Field(
        examples=["HG1"], description="The jurisdiction whose policy this is."
    )
    terms: PolicyTerms
    versions: list[PolicyVersion] = Field(
        description="Every version recorded for this jurisdiction, oldest first."
    )
