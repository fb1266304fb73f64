"""Tickets (网格事项): report, then each action of the lifecycle; queues and timelines."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from api.http.actions import add_action
from api.http.deps import CallerDep
from api.http.problems import COMMAND, QUERY
from api.http.reads import Connection, Cursor, Limit, found, reader
from api.http.routing import OneHopRoute
from api.http.schemas.common import Answer, Code, Instant, PageOf, created
from api.http.schemas.tickets import (
    DispatchIn,
    EscalateIn,
    NoteIn,
    RateIn,
    ReasonIn,
    RejectIn,
    ResolveIn,
    TicketIn,
    TicketOut,
    TimelineEntry,
    TimelinePage,
)
from api.http.visibility import ViewerDep
from domain.application import Governance
from domain.errors import NotFoundError
from domain.ticket_policy import Level, Status
from projections.views import tickets, tickets_timeline

router = APIRouter(prefix="/v1", tags=["tickets"], route_class=OneHopRoute)

Tickets = Annotated[Connection, reader("tickets")]
Timeline = Annotated[Connection, reader("tickets", "ticket_timeline")]


@router.post("/tickets", status_code=201, responses=COMMAND, name="report_ticket")
def report_ticket(body: TicketIn, caller: CallerDep, response: Response) -> Answer:
    """Report a matter in a grid (随手拍 by a grid worker, a resident, the hotline); a
    resident reports as themselves; staff may name as reporter only a member they may
    read (else 404, as an unknown id)."""
    fields = body.model_dump()
    if caller.principal.role == "resident" and body.reporter_member_id is None:
        fields["reporter_member_id"] = caller.principal.sub
    owner = fields["reporter_member_id"]
    if body.reporter_member_id is not None:
        caller.allow("report_ticket", place=body.grid, owner=owner)
        caller.require_known_member(body.reporter_member_id)
    result = caller.run("report_ticket", place=body.grid, owner=owner, **fields)
    caller.facts.learn(result.id, body.grid, owner)  # what `_ticket` would read
    return created(response, result, f"/v1/tickets/{result.id}")


def _ticket(governance: Governance, ticket_id: UUID) -> tuple[str, object]:
    ticket = governance.ticket(ticket_id)
    return ticket.grid, ticket.reporter_member_id


for _action, _command, _body, _doc in (
    ("accept", "accept_ticket", None, "Accept a reported ticket for handling."),
    ("reject", "reject_ticket", RejectIn, "Reject a reported ticket: invalid or a duplicate."),
    ("dispatch", "dispatch_ticket", DispatchIn, "Dispatch to a handler at a level (派单)."),
    ("respond", "respond_ticket", NoteIn, "First response (响应); due an hour after report."),
    ("escalate", "escalate_ticket", EscalateIn, "Escalate to a higher level (吹哨/上报)."),
    ("supervise", "supervise_ticket", NoteIn, "Supervise a ticket in hand (督办)."),
    ("resolve", "resolve_ticket", ResolveIn, "Resolve (办结); the reporter earns points."),
    ("rate", "rate_ticket", RateIn, "Rate the resolution (评价): its reporter only."),
    ("visit", "visit_ticket", NoteIn, "Record a return visit (回访)."),
    ("close", "close_ticket", None, "Close a resolved ticket (销号)."),
    ("reopen", "reopen_ticket", ReasonIn, "Reopen a resolved or closed ticket."),
):
    add_action(router, "tickets", _action, _command, _body, _ticket, _doc)


@router.get("/tickets/{ticket_id}", responses=QUERY)
def get_ticket(ticket_id: UUID, conn: Tickets, viewer: ViewerDep) -> TicketOut:
    """A ticket's current state, deadlines and overdue flags."""
    row = tickets.ticket(conn, ticket_id, viewer.reach)
    return TicketOut(**viewer.ticket_row(found(row, "Ticket", ticket_id)))


@router.get("/tickets", responses=QUERY)
def list_tickets(
    conn: Tickets,
    viewer: ViewerDep,
    grid: Annotated[
        Code | None, Query(description="A grid, or any code above it: its whole subtree.")
    ] = None,
    status: Status | None = None,
    overdue: Annotated[bool | None, Query(description="Missed a deadline, or not.")] = None,
    level: Level | None = None,
    reported_from: Annotated[Instant | None, Query(alias="from")] = None,
    reported_to: Annotated[Instant | None, Query(alias="to")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOf[TicketOut]:
    """Ticket queues, newest first: by subtree, status, level, overdue and report time
    (only the tickets the caller may read)."""
    items, next_cursor = tickets.tickets(
        conn,
        viewer.reach,
        grid=grid,
        status=status,
        level=level,
        reported_from=reported_from,
        reported_to=reported_to,
        overdue=overdue,
        limit=limit,
        cursor=cursor,
    )
    return PageOf[TicketOut](
        items=[TicketOut(**viewer.ticket_row(r)) for r in items], next_cursor=next_cursor
    )


@router.get("/tickets/{ticket_id}/timeline", responses=QUERY)
def get_timeline(
    ticket_id: UUID,
    conn: Timeline,
    viewer: ViewerDep,
    response: Response,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TimelinePage:
    """Every event of the ticket, in order, with who did it and when. `audit_stream`
    (and the `Link` header, rel `audit-stream`) names the same events in the audit log;
    each entry's `audit_state` names the ticket's state right after it."""
    if not tickets.ticket_seen(conn, ticket_id, viewer.reach):
        raise NotFoundError("Ticket", ticket_id)
    items, next_cursor = tickets_timeline.timeline(conn, ticket_id, limit, cursor)
    stream = f"/v1/audit/streams/{ticket_id}"
    response.headers["Link"] = f'<{stream}>; rel="audit-stream"'
    return TimelinePage(
        items=[
            TimelineEntry(**r, audit_state=f"{stream}/state?version={r['version']}") for r in items
        ],
        next_cursor=next_cursor,
        audit_stream=stream,
    )
