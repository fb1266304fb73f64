"""Jurisdictions: define the tree, read a node, its children and its roster."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from api.http.deps import CallerDep
from api.http.permissions import is_platform
from api.http.problems import COMMAND, QUERY, ForbiddenError
from api.http.reads import Cursor, Limit, found, reader
from api.http.routing import OneHopRoute
from api.http.schemas.common import Answer, Code, PageOf, created
from api.http.schemas.jurisdictions import JurisdictionIn, JurisdictionOut, RosterEntry
from api.http.visibility import ViewerDep
from projections.views import jurisdictions
from projections.views.reading import Connection

router = APIRouter(prefix="/v1", tags=["jurisdictions"], route_class=OneHopRoute)

CodePath = Annotated[Code, Path(description="A jurisdiction code.")]
Jurisdictions = Annotated[Connection, reader("jurisdictions")]
Roster = Annotated[Connection, reader("jurisdictions", "rosters", "members", "organisations")]


@router.post("/jurisdictions", status_code=201, responses=COMMAND, name="define_jurisdiction")
def define_jurisdiction(body: JurisdictionIn, caller: CallerDep, response: Response) -> Answer:
    """Define a district, street, community or grid under its parent (admin: a new
    district needs the platform scope `*`, or a scope naming that district)."""
    scoped = not is_platform(caller.principal)
    if body.parent is None and scoped and caller.principal.scope != body.code:
        raise ForbiddenError(f"a district lies outside this token's scope {caller.principal.scope}")
    result = caller.run("define_jurisdiction", place=body.parent, **body.model_dump())
    return created(response, result, f"/v1/jurisdictions/{body.code}")


def _node(conn: Connection, code: str) -> JurisdictionOut:
    row = jurisdictions.node(conn, code)
    return JurisdictionOut(**found(row, "Jurisdiction", code))


@router.get("/jurisdictions/{code}", responses=QUERY)
def get_jurisdiction(code: CodePath, conn: Jurisdictions) -> JurisdictionOut:
    """A jurisdiction with its path of codes from the root down."""
    return _node(conn, code)


@router.get("/jurisdictions/{code}/children", responses=QUERY)
def get_children(
    code: CodePath, conn: Jurisdictions, limit: Limit = 50, cursor: Cursor = None
) -> PageOf[JurisdictionOut]:
    """The jurisdictions directly under `code`, by code."""
    _node(conn, code)
    items, next_cursor = jurisdictions.children(conn, code, limit, cursor)
    return PageOf[JurisdictionOut](
        items=[JurisdictionOut(**r) for r in items], next_cursor=next_cursor
    )


@router.get("/jurisdictions/{code}/roster", responses=QUERY)
def get_roster(
    code: CodePath,
    conn: Roster,
    viewer: ViewerDep,
    kind: Annotated[Literal["member", "organisation"] | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOf[RosterEntry]:
    """Members and organisations reported in to the subtree of `code`, in the order
    they reported in: those the caller may read (within its scope; a resident, itself)."""
    _node(conn, code)
    items, next_cursor = jurisdictions.roster(conn, code, viewer.reach, kind, limit, cursor)
    return PageOf[RosterEntry](items=[RosterEntry(**r) for r in items], next_cursor=next_cursor)
