"""Assessments (考核): assessment policies, and scorecards of subtrees and workers.

Scorecards are read by evaluators, auditors and admins everywhere, by staff and grid
workers within their scope; residents may not read them (403). The figures are defined
in the README's "Evaluating" section and computed by `projections.analysis.scorecards`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from api.http.deps import CallerDep, GovernanceDep, PoolDep
from api.http.exports import (
    FILE_RESPONSES,
    Export,
    Format,
    FormatQuery,
    file_name,
    file_response,
    period_text,
    request_query,
)
from api.http.permissions import OWN
from api.http.problems import COMMAND, QUERY, ForbiddenError
from api.http.reads import Connection, reader, spare_connections
from api.http.routing import OneHopRoute
from api.http.schemas.common import Answer, Body, Code, Day, Instant
from api.http.schemas.scorecards import PolicyOut, ScorecardOut, WorkerScorecardOut
from api.http.visibility import ViewerDep
from domain.assessment_policy import DEFAULT_TERMS
from domain.calendar import start_of_local_day
from domain.errors import InvalidValueError, NotFoundError
from projections.analysis.scorecard_series import scorecard_table
from projections.analysis.scorecards import (
    Period,
    jurisdiction_scorecard,
    path_of,
    policy_for,
    worker_scorecard,
)
from projections.views import assessments, members

router = APIRouter(prefix="/v1", tags=["assessments"], route_class=OneHopRoute)

Assessments = Annotated[Connection, reader("assessments")]
Scorecards = Annotated[Connection, reader("assessments", "points")]
WorkerCards = Annotated[Connection, reader("assessments", "members", "points")]


class StarRule(Body):
    figure: str = Field(examples=["response_in_time_rate"])
    threshold: float = Field(examples=[0.9])


class PolicyIn(Body):
    weights: dict[str, float] = Field(examples=[DEFAULT_TERMS["weights"]])
    basically_satisfied_weight: float = Field(examples=[0.8], description="k")
    min_cases: int = Field(examples=[5], ge=1, le=1_000_000)
    stars: list[StarRule] = Field(max_length=20)


class PolicyAnswer(Answer):
    policy_version: int | None = None


PeriodBound = Annotated[
    Instant | Day,
    Query(description="An instant, or a date (midnight Asia/Shanghai)."),
]


def _instant(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return start_of_local_day(value)


@dataclass(frozen=True)
class Asked:
    """What a scorecard request asks for: the period as given (for a file's name), the
    period to count, and the format."""

    start: datetime | date
    end: datetime | date
    period: Period
    fmt: Format


def asked(
    viewer: ViewerDep,
    start: Annotated[PeriodBound, Query(alias="from")],
    end: Annotated[PeriodBound, Query(alias="to")],
    as_of: Annotated[Instant | None, Query(description="As the record stood then.")] = None,
    fmt: FormatQuery = Format.JSON,
) -> Asked:
    """A scorecard's query, checked: residents may not read scorecards; from before to."""
    if viewer.principal.role == OWN:
        raise ForbiddenError("a resident may not read scorecards")
    period = Period(_instant(start), _instant(end), as_of)
    if period.start >= period.end:
        raise InvalidValueError("from must be before to", rule="scorecard.period")
    return Asked(start, end, period, fmt)


AskedDep = Annotated[Asked, Depends(asked)]


@router.put("/assessment-policies/{jurisdiction}", responses=COMMAND, name="put_assessment_policy")
def put_policy(
    jurisdiction: Annotated[Code, Path()], body: PolicyIn, caller: CallerDep
) -> PolicyAnswer:
    """Publish a new version of a jurisdiction's assessment policy, effective now
    (identical to the version in force: nothing new). Admins only."""
    terms = body.model_dump()
    result = caller.run("put_assessment_policy", jurisdiction, terms, place=jurisdiction)
    return PolicyAnswer.of(result)


@router.get("/assessment-policies/{jurisdiction}", responses=QUERY)
def get_policy(
    jurisdiction: Annotated[Code, Path()],
    conn: Assessments,
    as_of: Annotated[Instant | None, Query(description="The policy in force then.")] = None,
) -> PolicyOut:
    """The policy a scorecard of `jurisdiction` uses now (or at `as_of`): its own, the
    nearest ancestor's, or the built-in default (version 0); with its own versions."""
    place = path_of(conn, jurisdiction)
    if place is None:
        raise NotFoundError("Jurisdiction", jurisdiction)
    policy = policy_for(conn, place[1], as_of)
    versions = assessments.policy_versions(conn, jurisdiction)
    return PolicyOut.model_validate(
        {
            "jurisdiction": jurisdiction,
            "as_of": as_of,
            "version": policy["version"],
            "effective_from": policy["effective_from"],
            "defined_at": policy["jurisdiction"],
            "terms": policy["terms"],
            "versions": versions,
        }
    )


@router.get(
    "/scorecards/workers/{member_id}",
    response_model=WorkerScorecardOut,
    responses=QUERY | FILE_RESPONSES,
)
def worker_card(
    member_id: Annotated[UUID, Path()],
    conn: WorkerCards,
    viewer: ViewerDep,
    governance: GovernanceDep,
    request: Request,
    ask: AskedDep,
) -> Any:
    """A worker's scorecard: the tickets reported in [from, to) that they were assigned,
    responded to or resolved; their stars, each with the rule that made it visible."""
    member = members.home_grid(conn, member_id, viewer.reach)
    if member is None:
        raise NotFoundError("Member", member_id)
    home = path_of(conn, member["home_grid"]) if member["home_grid"] else None
    card = worker_scorecard(
        conn, str(member_id), home[1] if home else None, ask.period, governance.clock()
    )
    return _as(card, WorkerScorecardOut, ask, request, "worker-scorecard", member_id)


@router.get(
    "/scorecards/{jurisdiction}", response_model=ScorecardOut, responses=QUERY | FILE_RESPONSES
)
def scorecard(
    jurisdiction: Annotated[Code, Path()],
    conn: Scorecards,
    pool: PoolDep,
    viewer: ViewerDep,
    governance: GovernanceDep,
    request: Request,
    ask: AskedDep,
) -> Any:
    """The scorecard of a jurisdiction's subtree for tickets reported in [from, to)."""
    place = path_of(conn, jurisdiction)
    if place is None:
        raise NotFoundError("Jurisdiction", jurisdiction)
    kind, path = place
    scope = viewer.scope
    if not viewer.sees_everything and (scope is None or scope not in path):
        raise ForbiddenError(f"{jurisdiction} lies outside this token's scope {scope}")
    with spare_connections(pool, 2) as spares:
        card = jurisdiction_scorecard(
            conn, jurisdiction, kind, path, ask.period, governance.clock(), spares
        )
    return _as(card, ScorecardOut, ask, request, "scorecard", jurisdiction)


def _as(
    card: dict[str, Any], model: type[BaseModel], ask: Asked, request: Request, *name: Any
) -> Any:
    """The scorecard as asked: JSON, or one row per figure in a csv or xlsx file."""
    if ask.fmt is Format.JSON:
        return model.model_validate(card)
    columns, figures = scorecard_table(card)
    as_of = ask.period.as_of
    export = Export(
        name=file_name(*name, ask.start, ask.end),
        title="Scorecard 考核记分卡",
        columns=columns,
        query=request_query(request),
        position=request.state.projection_position,
        period=period_text(ask.start, ask.end),
        as_of=str(as_of) if as_of else "now",
    )
    return file_response(export, figures, ask.fmt)
