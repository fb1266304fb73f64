"""Members: register, report in (报到), claim and release roles (认领); read and list."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from api.http.deps import CallerDep
from api.http.problems import COMMAND, QUERY
from api.http.reads import Connection, Cursor, Limit, found, reader
from api.http.routing import OneHopRoute
from api.http.schemas.common import Answer, Code, PageOf, created
from api.http.schemas.members import MemberIn, MemberOut, MemberReportIn, RoleClaimIn, RoleReleaseIn
from api.http.visibility import ViewerDep
from domain.member import MemberKind, Role
from projections.views import members

router = APIRouter(prefix="/v1", tags=["members"], route_class=OneHopRoute)

Members = Annotated[Connection, reader("members", "rosters", "jurisdictions")]


@router.post("/members", status_code=201, responses=COMMAND, name="register_member")
def register_member(body: MemberIn, caller: CallerDep, response: Response) -> Answer:
    """Register a member; `home_grid` is the grid they live in, if known."""
    result = caller.run("register_member", place=body.home_grid, **body.model_dump())
    return created(response, result, f"/v1/members/{result.id}")


@router.post("/members/{member_id}/report-ins", responses=COMMAND, name="report_in_member")
def report_in(member_id: UUID, body: MemberReportIn, caller: CallerDep) -> Answer:
    """The member reports in (报到) to a community, perhaps a grid, perhaps through an
    organisation that has reported in there. Staff report in only a member they may
    read already (one of their subtree's, by home grid or report-in): anyone else is
    404, as an unknown id; a member from elsewhere reports in with their own token."""
    caller.allow("report_in_member", place=body.grid or body.community, owner=member_id)
    caller.require_known_member(member_id)
    result = caller.run(
        "report_in_member",
        member_id,
        place=body.grid or body.community,
        owner=member_id,
        **body.model_dump(),
    )
    return Answer.of(result)


@router.post("/members/{member_id}/role-claims", responses=COMMAND, name="claim_role")
def claim_role(member_id: UUID, body: RoleClaimIn, caller: CallerDep) -> Answer:
    """The member claims a role (grid worker, building or unit head, pioneer post):
    one the staff may read (see `report_in`), else 404."""
    caller.allow("claim_role", place=body.jurisdiction)
    caller.require_known_member(member_id)
    result = caller.run("claim_role", member_id, place=body.jurisdiction, **body.model_dump())
    return Answer.of(result)


@router.post("/members/{member_id}/role-releases", responses=COMMAND, name="release_role")
def release_role(member_id: UUID, body: RoleReleaseIn, caller: CallerDep) -> Answer:
    """The member releases a role they hold."""
    result = caller.run("release_role", member_id, place=body.jurisdiction, **body.model_dump())
    return Answer.of(result)


@router.get("/members/{member_id}", responses=QUERY)
def get_member(member_id: UUID, conn: Members, viewer: ViewerDep) -> MemberOut:
    """A member with report-ins, held roles, volunteer hours and points balance (404 for
    a member outside what the caller may read)."""
    row = members.member(conn, member_id, viewer.reach)
    return MemberOut(**viewer.member_row(found(row, "Member", member_id)))


@router.get("/members", responses=QUERY)
def list_members(
    conn: Members,
    viewer: ViewerDep,
    jurisdiction: Annotated[
        Code | None, Query(description="Reported in to, or living in, this subtree.")
    ] = None,
    kind: MemberKind | None = None,
    role: Annotated[Role | None, Query(description="Holding this role.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOf[MemberOut]:
    """Members the caller may read, by id, filtered by subtree, kind and held role."""
    items, next_cursor = members.members(
        conn,
        viewer.reach,
        jurisdiction=jurisdiction,
        kind=kind,
        role=role and role.value,
        limit=limit,
        cursor=cursor,
    )
    return PageOf[MemberOut](
        items=[MemberOut(**viewer.member_row(r)) for r in items], next_cursor=next_cursor
    )
