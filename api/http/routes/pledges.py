"""Pledges (承诺/践诺): make, accept, log and verify sessions, withdraw, review; read, list."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Response

from api.http.actions import act, add_action
from api.http.deps import CallerDep
from api.http.problems import COMMAND, QUERY
from api.http.reads import Connection, Cursor, Limit, found, reader
from api.http.routing import OneHopRoute
from api.http.schemas.common import Answer, Code, PageOf, created
from api.http.schemas.pledges import (
    PledgeIn,
    PledgeOut,
    ReviewIn,
    SessionAnswer,
    SessionIn,
    StatusAnswer,
    WithdrawIn,
)
from api.http.visibility import ViewerDep
from domain.application import Governance
from domain.pledge_rules import PledgeStatus
from projections.views import pledges

router = APIRouter(prefix="/v1", tags=["pledges"], route_class=OneHopRoute)

Pledges = Annotated[Connection, reader("pledges", "jurisdictions")]


@router.post("/pledges", status_code=201, responses=COMMAND, name="make_pledge")
def make_pledge(body: PledgeIn, caller: CallerDep, response: Response) -> Answer:
    """A member pledges a service item, pioneer post or commitment (我是党员,我承诺)."""
    member = body.member_id
    fields = body.model_dump()
    result = caller.run("make_pledge", place=body.community, owner=member, member=member, **fields)
    return created(response, result, f"/v1/pledges/{result.id}")


def _pledge(governance: Governance, pledge_id: UUID) -> tuple[str, object]:
    pledge = governance.pledge(pledge_id)
    return pledge.community, pledge.member_id


add_action(router, "pledges", "accept", "accept_pledge", None, _pledge, "Accept a pledge.")
add_action(
    router,
    "pledges",
    "sessions",
    "log_session",
    SessionIn,
    _pledge,
    "Log a service session on an accepted pledge; answers its session_no.",
    SessionAnswer,
)
add_action(
    router, "pledges", "withdraw", "withdraw_pledge", WithdrawIn, _pledge, "Withdraw a pledge."
)
add_action(
    router,
    "pledges",
    "review",
    "review_pledge",
    ReviewIn,
    _pledge,
    "Review a fulfilled or lapsed pledge (践诺评议), once.",
)


@router.post("/pledges/{id}/sessions/{session_no}/verify", responses=COMMAND, name="verify_session")
def verify_session(
    id: UUID,
    session_no: Annotated[int, Path(ge=1, le=100_000)],
    caller: CallerDep,
) -> StatusAnswer:
    """Verify a session; the pledge is fulfilled (and its points awarded) once verified
    hours reach the target. Answers the pledge's status."""
    return StatusAnswer.of(act(caller, _pledge, "verify_session", id, session_no))


@router.get("/pledges/{pledge_id}", responses=QUERY)
def get_pledge(pledge_id: UUID, conn: Pledges, viewer: ViewerDep) -> PledgeOut:
    """A pledge with its hours, sessions and review."""
    row = found(pledges.pledge(conn, pledge_id, viewer.reach), "Pledge", pledge_id)
    return PledgeOut.model_validate({**row, "sessions": pledges.sessions(conn, pledge_id)})


@router.get("/pledges", responses=QUERY)
def list_pledges(
    conn: Pledges,
    viewer: ViewerDep,
    member_id: UUID | None = None,
    community: Code | None = None,
    status: PledgeStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOf[PledgeOut]:
    """Pledges the caller may read, by when they were made (without sessions: read one
    for those)."""
    items, next_cursor = pledges.pledges(
        conn,
        viewer.reach,
        member_id=member_id,
        community=community,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return PageOf[PledgeOut](items=[PledgeOut(**r) for r in items], next_cursor=next_cursor)
