"""Tickets through Governance, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.application import Governance
from domain.commands.base import CommandResult, Meta
from domain.context import SYSTEM, Actor
from domain.errors import (
    DomainError,
    DuplicateOfError,
    EscalationLevelError,
    InvalidTransitionError,
    NotFoundError,
    RatedByReporterError,
    ResolutionNotOverdueError,
    ResponseNotOverdueError,
    TicketValueError,
    WrongJurisdictionKindError,
)
from domain.jurisdiction import Jurisdiction
from domain.ticket import Ticket
from domain.ticket_policy import TicketPolicy
from tests.fakes import FakeClock
from tests.writeside import max_position

WORKER = Meta(actor=Actor("worker-1", "grid_worker"))
STAFF = Meta(actor=Actor("staff-1", "community_staff"))
WATCHER = Meta(actor=SYSTEM)


def report(gov: Governance, grid: str, **fields: Any) -> UUID:
    defaults: dict[str, Any] = {
        "category": "road",
        "description": "pothole outside building 3",
        "grid": grid,
        "source": "grid_worker",
    }
    return gov.report_ticket(WORKER, **{**defaults, **fields}).id


def stored_types(gov: Governance, ticket_id: UUID) -> list[str]:
    return [type(e).__name__ for e in gov.events.get(ticket_id)]


def handle_until_responded(gov: Governance, ticket_id: UUID) -> None:
    gov.accept_ticket(STAFF, ticket_id)
    gov.dispatch_ticket(STAFF, ticket_id, level="grid", assignee="worker-1")
    gov.respond_ticket(WORKER, ticket_id, note="on my way")


@pytest.fixture
def grid(tree: dict[str, str]) -> str:
    return tree["grid"]


@pytest.fixture
def resident(governance: Governance, admin: Meta, grid: str) -> UUID:
    return governance.register_member(
        admin, name="王芳", phone="13800000001", kind="resident", party_member=False, home_grid=grid
    ).id


def test_a_reported_ticket_is_saved_with_its_community_and_deadlines(
    governance: Governance, tree: dict[str, str], clock: FakeClock
) -> None:
    result = governance.report_ticket(
        WORKER,
        category="road",
        description="pothole outside building 3",
        grid=tree["grid"],
        source="grid_worker",
        priority="urgent",
        location={"address": "文化路 3 号", "lat": 39.93, "lon": 119.6},
    )
    assert (result.version, result.position) == (1, max_position(governance))
    ticket = governance.ticket(result.id)
    assert (ticket.status, ticket.grid, ticket.community) == (
        "reported",
        tree["grid"],
        tree["community"],
    )
    assert ticket.reported_at == clock.now
    assert ticket.respond_due_at == clock.now + timedelta(hours=1)
    assert ticket.resolve_due_at == clock.now + timedelta(hours=24)
    assert ticket.location == {"address": "文化路 3 号", "lat": 39.93, "lon": 119.6}


@pytest.mark.parametrize("place", ["community", "street", "district"])
def test_a_ticket_is_reported_in_a_grid(
    governance: Governance, tree: dict[str, str], place: str
) -> None:
    before = max_position(governance)
    with pytest.raises(WrongJurisdictionKindError):
        report(governance, tree[place])
    with pytest.raises(NotFoundError):
        report(governance, "NO-SUCH-GRID")
    assert max_position(governance) == before


def test_the_reporting_member_must_exist(governance: Governance, grid: str) -> None:
    before = max_position(governance)
    with pytest.raises(NotFoundError):
        report(governance, grid, source="resident", reporter_member_id=uuid4())
    assert max_position(governance) == before


def test_a_ticket_lives_its_whole_life_in_order_and_reloads_from_the_store(
    governance: Governance, grid: str, resident: UUID, clock: FakeClock
) -> None:
    ticket_id = report(governance, grid, source="resident", reporter_member_id=resident)
    governance.accept_ticket(STAFF, ticket_id)
    governance.supervise_ticket(STAFF, ticket_id, note="please hurry")
    governance.dispatch_ticket(STAFF, ticket_id, level="grid", assignee="worker-1")
    clock.advance(minutes=20)
    governance.respond_ticket(WORKER, ticket_id, note="on my way")
    governance.escalate_ticket(WORKER, ticket_id, to_level="street", reason="needs the street")
    governance.dispatch_ticket(STAFF, ticket_id, level="department", assignee="housing bureau")
    governance.respond_ticket(STAFF, ticket_id, note="bureau on site")
    clock.advance(hours=5)
    governance.resolve_ticket(STAFF, ticket_id, resolution="road resurfaced")
    resident_meta = Meta(actor=Actor(str(resident), "resident"))
    governance.rate_ticket(resident_meta, ticket_id, satisfaction="satisfied", comment="thanks")
    governance.visit_ticket(STAFF, ticket_id, note="called back")
    closed = governance.close_ticket(STAFF, ticket_id)

    assert stored_types(governance, ticket_id) == [
        "Reported",
        "Accepted",
        "Supervised",
        "Dispatched",
        "Responded",
        "Escalated",
        "Dispatched",
        "Responded",
        "Resolved",
        "Rated",
        "Visited",
        "Closed",
    ]
    ticket = governance.ticket(ticket_id)
    assert closed.version == ticket.version == 12
    assert (ticket.status, ticket.level, ticket.assignee) == (
        "closed",
        "department",
        "housing bureau",
    )
    assert ticket.responded_at == ticket.reported_at + timedelta(minutes=20)
    assert ticket.resolved_at == ticket.closed_at == clock.now
    assert (ticket.satisfaction, ticket.response_overdue, ticket.resolution_overdue) == (
        "satisfied",
        False,
        False,
    )
    assert [e["to_level"] for e in ticket.escalations] == ["street"]
    assert (len(ticket.supervisions), len(ticket.visits)) == (1, 1)
    assert ticket.reporter_member_id == resident
    rated = list(governance.events.get(ticket_id))[9]
    assert (rated.actor_id, rated.actor_role) == (str(resident), "resident")


def test_a_ticket_is_read_as_it_was_at_any_version(
    governance: Governance, grid: str, clock: FakeClock
) -> None:
    ticket_id = report(governance, grid)
    handle_until_responded(governance, ticket_id)
    clock.advance(hours=1)
    governance.resolve_ticket(STAFF, ticket_id, resolution="filled")

    then = governance.repository.get(ticket_id, version=3)
    assert isinstance(then, Ticket)
    assert (then.status, then.assignee, then.responded_at) == ("dispatched", "worker-1", None)
    assert governance.repository.get(ticket_id, version=1).status == "reported"
    assert governance.ticket(ticket_id).status == "resolved"


Command = Callable[[Governance, UUID], CommandResult]

REFUSED: list[Any] = [
    pytest.param(
        [], lambda g, t: g.close_ticket(STAFF, t), InvalidTransitionError, id="close-reported"
    ),
    pytest.param(
        ["accept"],
        lambda g, t: g.respond_ticket(WORKER, t, note="x"),
        InvalidTransitionError,
        id="respond-accepted",
    ),
    pytest.param(
        ["accept", "dispatch"],
        lambda g, t: g.escalate_ticket(STAFF, t, to_level="grid", reason="x"),
        EscalationLevelError,
        id="escalate-sideways",
    ),
    pytest.param(
        ["accept", "dispatch"],
        lambda g, t: g.dispatch_ticket(STAFF, t, level="grid", assignee="x"),
        InvalidTransitionError,
        id="dispatch-twice",
    ),
    pytest.param(
        [],
        lambda g, t: g.reject_ticket(STAFF, t, reason="duplicate"),
        DuplicateOfError,
        id="duplicate-without-original",
    ),
    pytest.param(
        [],
        lambda g, t: g.reject_ticket(STAFF, t, reason="duplicate", duplicate_of=t),
        DuplicateOfError,
        id="duplicate-of-itself",
    ),
    pytest.param(
        [],
        lambda g, t: g.reject_ticket(STAFF, t, reason="duplicate", duplicate_of=uuid4()),
        NotFoundError,
        id="duplicate-of-nothing",
    ),
    pytest.param(
        ["accept"],
        lambda g, t: g.dispatch_ticket(STAFF, t, level="grid", assignee=" "),
        TicketValueError,
        id="blank-assignee",
    ),
    pytest.param(
        [],
        lambda g, t: g.record_response_overdue(WATCHER, t),
        ResponseNotOverdueError,
        id="response-not-due",
    ),
    pytest.param(
        [],
        lambda g, t: g.record_resolution_overdue(WATCHER, t),
        ResolutionNotOverdueError,
        id="resolution-not-due",
    ),
]

STEPS: dict[str, Command] = {
    "accept": lambda g, t: g.accept_ticket(STAFF, t),
    "dispatch": lambda g, t: g.dispatch_ticket(STAFF, t, level="grid", assignee="worker-1"),
}


@pytest.mark.parametrize(("steps", "command", "error"), REFUSED)
def test_a_refused_ticket_command_records_nothing(
    governance: Governance,
    grid: str,
    steps: list[str],
    command: Command,
    error: type[DomainError],
) -> None:
    ticket_id = report(governance, grid)
    for step in steps:
        STEPS[step](governance, ticket_id)
    before, version = max_position(governance), governance.ticket(ticket_id).version
    with pytest.raises(error):
        command(governance, ticket_id)
    assert max_position(governance) == before
    assert governance.ticket(ticket_id).version == version


def test_a_duplicate_names_another_stored_ticket(governance: Governance, grid: str) -> None:
    original = report(governance, grid)
    again = report(governance, grid)
    governance.reject_ticket(STAFF, again, reason="duplicate", duplicate_of=str(original))
    ticket = governance.ticket(again)
    assert (ticket.status, ticket.rejection_reason, ticket.duplicate_of) == (
        "rejected",
        "duplicate",
        original,
    )


def test_a_ticket_is_rated_only_by_the_member_who_reported_it(
    governance: Governance, grid: str, resident: UUID
) -> None:
    ticket_id = report(governance, grid, source="resident", reporter_member_id=resident)
    handle_until_responded(governance, ticket_id)
    governance.resolve_ticket(STAFF, ticket_id, resolution="filled")
    before = max_position(governance)
    with pytest.raises(RatedByReporterError):
        governance.rate_ticket(STAFF, ticket_id, satisfaction="satisfied")
    assert max_position(governance) == before
    resident_meta = Meta(actor=Actor(str(resident), "resident"))
    governance.rate_ticket(resident_meta, ticket_id, satisfaction="basically_satisfied")
    assert governance.ticket(ticket_id).satisfaction == "basically_satisfied"


def test_a_late_first_response_records_the_missed_deadline_in_the_same_command(
    governance: Governance, grid: str, clock: FakeClock
) -> None:
    ticket_id = report(governance, grid)
    governance.accept_ticket(STAFF, ticket_id)
    governance.dispatch_ticket(STAFF, ticket_id, level="grid", assignee="worker-1")
    clock.advance(hours=1, minutes=30)
    before = max_position(governance)
    result = governance.respond_ticket(WORKER, ticket_id, note="sorry, late")

    assert stored_types(governance, ticket_id)[-2:] == ["ResponseOverdue", "Responded"]
    assert result.position == max_position(governance) == before + 2
    ticket = governance.ticket(ticket_id)
    assert ticket.response_overdue is True
    assert ticket.responded_at == clock.now
    with pytest.raises(ResponseNotOverdueError):
        governance.record_response_overdue(WATCHER, ticket_id)
    assert max_position(governance) == result.position


def test_the_watcher_records_each_missed_deadline_once(
    governance: Governance, grid: str, clock: FakeClock
) -> None:
    ticket_id = report(governance, grid)
    clock.advance(hours=73)
    governance.record_response_overdue(WATCHER, ticket_id)
    governance.record_resolution_overdue(WATCHER, ticket_id)
    recorded = max_position(governance)
    with pytest.raises(ResponseNotOverdueError):
        governance.record_response_overdue(WATCHER, ticket_id)
    with pytest.raises(ResolutionNotOverdueError):
        governance.record_resolution_overdue(WATCHER, ticket_id)
    assert max_position(governance) == recorded
    assert stored_types(governance, ticket_id) == [
        "Reported",
        "ResponseOverdue",
        "ResolutionOverdue",
    ]
    overdue = list(governance.events.get(ticket_id))[2]
    assert overdue.actor_id == "system"
    assert overdue.due_at == governance.ticket(ticket_id).resolve_due_at


def test_a_reopen_gives_a_new_resolution_deadline_from_the_applications_policy(
    governance: Governance, grid: str, clock: FakeClock
) -> None:
    governance.ticket_policy = TicketPolicy(by_category={"noise": {"normal": timedelta(hours=8)}})
    ticket_id = report(governance, grid, category="noise")
    assert governance.ticket(ticket_id).resolve_due_at == clock.now + timedelta(hours=8)
    handle_until_responded(governance, ticket_id)
    governance.resolve_ticket(STAFF, ticket_id, resolution="talked to the neighbours")
    governance.close_ticket(STAFF, ticket_id)
    clock.advance(hours=30)
    governance.reopen_ticket(STAFF, ticket_id, reason="noisy again")
    ticket = governance.ticket(ticket_id)
    assert (ticket.status, ticket.assignee, ticket.reopen_count) == ("dispatched", "worker-1", 1)
    assert (ticket.resolved_at, ticket.closed_at) == (None, None)
    assert ticket.resolve_due_at == clock.now + timedelta(hours=8)


def test_a_repeated_report_with_one_idempotency_key_records_one_ticket(
    governance: Governance, grid: str
) -> None:
    keyed = replace(WORKER, idempotency_key="photo-1")
    first = governance.report_ticket(
        keyed, category="road", description="pothole", grid=grid, source="grid_worker"
    )
    before = max_position(governance)
    again = governance.report_ticket(
        keyed, category="road", description="pothole", grid=grid, source="grid_worker"
    )
    assert again == first
    assert max_position(governance) == before


def test_only_tickets_are_found_as_tickets(governance: Governance, tree: dict[str, str]) -> None:
    with pytest.raises(NotFoundError):
        governance.ticket(uuid4())
    with pytest.raises(NotFoundError):
        governance.ticket(Jurisdiction.id_for(tree["grid"]))
    with pytest.raises(NotFoundError):
        governance.accept_ticket(STAFF, "not-a-uuid")


def test_resolving_a_members_report_awards_valid_report_points_once_in_the_same_save(
    governance: Governance, grid: str, tree: dict[str, str], resident: UUID
) -> None:
    community = tree["community"]
    governance.put_rule(
        STAFF,
        community,
        "VALID_REPORT",
        description="a report that led to a resolution",
        points=5,
        kind="award",
        caps=None,
        requires_approval=False,
        trigger="valid_report",
    )
    ticket_id = report(governance, grid, source="resident", reporter_member_id=resident)
    handle_until_responded(governance, ticket_id)
    before = max_position(governance)
    result = governance.resolve_ticket(STAFF, ticket_id, resolution="filled")

    saved = governance.recorder.select_notifications(start=before + 1, limit=50)
    assert saved[-1].id == result.position == max_position(governance)
    assert ticket_id in {n.originator_id for n in saved}
    assert len({n.originator_id for n in saved}) > 1
    assert governance.points_account(resident, community).balance == 5

    governance.reopen_ticket(STAFF, ticket_id, reason="came back")
    governance.respond_ticket(WORKER, ticket_id, note="again")
    governance.resolve_ticket(STAFF, ticket_id, resolution="filled properly")
    assert governance.points_account(resident, community).balance == 5


def test_a_ticket_without_a_reporting_member_earns_no_points(
    governance: Governance, grid: str, tree: dict[str, str]
) -> None:
    governance.put_rule(
        STAFF,
        tree["community"],
        "VALID_REPORT",
        description="a report that led to a resolution",
        points=5,
        kind="award",
        caps=None,
        requires_approval=False,
        trigger="valid_report",
    )
    ticket_id = report(governance, grid, source="hotline")
    handle_until_responded(governance, ticket_id)
    before = max_position(governance)
    result = governance.resolve_ticket(STAFF, ticket_id, resolution="filled")
    assert result.position == before + 1
