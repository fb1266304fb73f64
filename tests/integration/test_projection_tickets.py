"""The tickets query table and ticket timelines, fed through Governance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, LiteralString
from uuid import UUID

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from domain.application import Governance
from domain.commands.base import Meta
from domain.context import SYSTEM, Actor
from projections.engine.batch import physical
from projections.engine.rebuild import checksums, rebuild
from projections.views.tickets import Tickets
from projections.views.tickets_timeline import TicketTimeline
from tests.fakes import FakeClock
from tests.readside import all_rows

WORKER = Meta(actor=Actor("worker-1", "grid_worker"))
STAFF = Meta(actor=Actor("staff-1", "community_staff"))
WATCHER = Meta(actor=SYSTEM)
LOCATION = {"address": "北环路 3 号", "lat": 39.93, "lon": 119.6}


def report(gov: Governance, grid: str, **fields: Any) -> UUID:
    defaults: dict[str, Any] = {
        "category": "road",
        "description": "pothole outside building 3",
        "grid": grid,
        "source": "grid_worker",
    }
    return gov.report_ticket(WORKER, **{**defaults, **fields}).id


def handle_until_responded(gov: Governance, ticket_id: UUID) -> None:
    gov.accept_ticket(STAFF, ticket_id)
    gov.dispatch_ticket(STAFF, ticket_id, level="grid", assignee="worker-1")
    gov.respond_ticket(WORKER, ticket_id, note="on my way")


def ticket_row(db: psycopg.Connection, ticket_id: UUID) -> dict[str, Any]:
    with db.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM tickets WHERE id = %s", (ticket_id,)).fetchone()
    assert row is not None
    return row


def ids(db: psycopg.Connection, where: LiteralString, *params: Any) -> set[UUID]:
    """The ids of the tickets the reader view returns for `where` (a queue's filter)."""
    query = sql.SQL("SELECT id FROM tickets WHERE ") + sql.SQL(where)
    return {r[0] for r in db.execute(query, params).fetchall()}


@pytest.fixture
def resident(governance: Governance, admin: Meta, tree: dict[str, str]) -> UUID:
    return governance.register_member(
        admin,
        name="王芳",
        phone="13800000001",
        kind="resident",
        party_member=False,
        home_grid=tree["grid"],
    ).id


def test_a_ticket_row_follows_its_whole_life_with_every_field(
    governance: Governance,
    tree: dict[str, str],
    resident: UUID,
    clock: FakeClock,
    project,
    db: psycopg.Connection,
) -> None:
    t0 = clock.now
    ticket_id = governance.report_ticket(
        WORKER,
        category="road",
        description="pothole outside building 3",
        grid=tree["grid"],
        source="resident",
        priority="urgent",
        location=LOCATION,
        reporter_member_id=resident,
    ).id
    project(Tickets())
    row = ticket_row(db, ticket_id)
    assert (row["status"], row["version"], row["level"], row["assignee"]) == (
        "reported",
        1,
        None,
        None,
    )

    governance.accept_ticket(STAFF, ticket_id)
    governance.supervise_ticket(STAFF, ticket_id, note="please hurry")
    governance.dispatch_ticket(STAFF, ticket_id, level="grid", assignee="worker-1")
    clock.advance(minutes=90)
    governance.respond_ticket(WORKER, ticket_id, note="sorry, late")
    first_response = clock.now
    governance.escalate_ticket(WORKER, ticket_id, to_level="street", reason="needs the street")
    project(Tickets())
    row = ticket_row(db, ticket_id)
    assert (row["status"], row["level"], row["assignee"], row["escalation_count"]) == (
        "accepted",
        "street",
        None,
        1,
    )

    clock.advance(minutes=10)
    governance.dispatch_ticket(STAFF, ticket_id, level="street", assignee="street office")
    dispatched = clock.now
    clock.advance(minutes=10)
    governance.respond_ticket(STAFF, ticket_id, note="street office on site")
    clock.set(t0 + timedelta(hours=30))
    governance.resolve_ticket(STAFF, ticket_id, resolution="road resurfaced")
    resolved = clock.now
    resident_meta = Meta(actor=Actor(str(resident), "resident"))
    governance.rate_ticket(resident_meta, ticket_id, satisfaction="satisfied", comment="thanks")
    governance.visit_ticket(STAFF, ticket_id, note="called back")
    clock.advance(hours=1)
    closed = governance.close_ticket(STAFF, ticket_id)
    project(Tickets())

    assert ticket_row(db, ticket_id) == {
        "id": ticket_id,
        "status": "closed",
        "category": "road",
        "grid": tree["grid"],
        "level": "street",
        "assignee": "street office",
        "source": "resident",
        "priority": "urgent",
        "reported_at": t0,
        "respond_due_at": t0 + timedelta(hours=1),
        "responded_at": first_response,
        "resolve_due_at": t0 + timedelta(hours=24),
        "resolved_at": resolved,
        "closed_at": clock.now,
        "satisfaction": "satisfied",
        "response_overdue": True,
        "resolution_overdue": True,
        "version": 14,
        "community": tree["community"],
        "street": tree["street"],
        "district": tree["district"],
        "grid_path": [tree["district"], tree["street"], tree["community"], tree["grid"]],
        "description": "pothole outside building 3",
        "reporter_member_id": resident,
        "location": LOCATION,
        "dispatched_at": dispatched,
        "resolution": "road resurfaced",
        "rating_comment": "thanks",
        "rejection_reason": None,
        "duplicate_of": None,
        "reopen_count": 0,
        "escalation_count": 1,
        "supervision_count": 1,
        "visit_count": 1,
        "resolution_overdue_count": 1,
        "last_position": closed.position,
        "updated_at": clock.now,
    }
    assert closed.version == 14


def test_a_rejected_duplicate_names_its_original(
    governance: Governance, tree: dict[str, str], project, db: psycopg.Connection
) -> None:
    original = report(governance, tree["grid"])
    again = report(governance, tree["grid"])
    invalid = report(governance, tree["grid2"], source="hotline")
    governance.reject_ticket(STAFF, again, reason="duplicate", duplicate_of=original)
    governance.reject_ticket(STAFF, invalid, reason="invalid")
    project(Tickets())

    row = ticket_row(db, again)
    assert (row["status"], row["rejection_reason"], row["duplicate_of"], row["version"]) == (
        "rejected",
        "duplicate",
        original,
        2,
    )
    row = ticket_row(db, invalid)
    assert (row["status"], row["rejection_reason"], row["duplicate_of"], row["source"]) == (
        "rejected",
        "invalid",
        None,
        "hotline",
    )
    assert ticket_row(db, original)["status"] == "reported"


def test_a_reopen_starts_a_new_round_with_its_own_deadline_and_no_rating(
    governance: Governance,
    tree: dict[str, str],
    resident: UUID,
    clock: FakeClock,
    project,
    db: psycopg.Connection,
) -> None:
    ticket_id = report(governance, tree["grid"], source="resident", reporter_member_id=resident)
    clock.advance(hours=2)
    handle_until_responded(governance, ticket_id)
    responded = clock.now
    clock.advance(hours=80)
    governance.resolve_ticket(STAFF, ticket_id, resolution="filled")
    resident_meta = Meta(actor=Actor(str(resident), "resident"))
    governance.rate_ticket(resident_meta, ticket_id, satisfaction="dissatisfied", comment="no")
    governance.close_ticket(STAFF, ticket_id)
    project(Tickets())
    row = ticket_row(db, ticket_id)
    assert (row["status"], row["satisfaction"], row["resolution_overdue"]) == (
        "closed",
        "dissatisfied",
        True,
    )

    clock.advance(hours=1)
    governance.reopen_ticket(STAFF, ticket_id, reason="the hole came back")
    reopened_at = clock.now
    project(Tickets())
    row = ticket_row(db, ticket_id)
    expected = {
        "status": "dispatched",
        "assignee": "worker-1",
        "level": "grid",
        "resolve_due_at": reopened_at + timedelta(hours=72),
        "resolved_at": None,
        "closed_at": None,
        "resolution": None,
        "satisfaction": None,
        "rating_comment": None,
        "response_overdue": True,
        "resolution_overdue": False,
        "resolution_overdue_count": 1,
        "reopen_count": 1,
    }
    assert {k: row[k] for k in expected} == expected
    assert row["responded_at"] == responded

    clock.advance(hours=73)
    governance.record_resolution_overdue(WATCHER, ticket_id)
    governance.respond_ticket(WORKER, ticket_id, note="back again")
    governance.resolve_ticket(STAFF, ticket_id, resolution="filled properly")
    project(Tickets())
    row = ticket_row(db, ticket_id)
    assert (row["status"], row["resolution"], row["resolved_at"]) == (
        "resolved",
        "filled properly",
        clock.now,
    )
    assert (row["resolution_overdue"], row["resolution_overdue_count"]) == (True, 2)


def test_missed_deadlines_set_the_overdue_flags_the_overdue_queue_reads(
    governance: Governance,
    tree: dict[str, str],
    clock: FakeClock,
    project,
    db: psycopg.Connection,
) -> None:
    late_response = report(governance, tree["grid"])
    clock.advance(minutes=30)
    on_time = report(governance, tree["grid"])
    handle_until_responded(governance, on_time)
    clock.advance(hours=1)
    governance.record_response_overdue(WATCHER, late_response)
    project(Tickets())
    assert ids(db, "response_overdue OR resolution_overdue") == {late_response}

    late_both = report(governance, tree["other_grid"])
    clock.advance(hours=73)
    governance.record_resolution_overdue(WATCHER, on_time)
    governance.record_response_overdue(WATCHER, late_both)
    governance.record_resolution_overdue(WATCHER, late_both)
    project(Tickets())
    assert ids(db, "response_overdue") == {late_response, late_both}
    assert ids(db, "resolution_overdue") == {on_time, late_both}
    assert ids(
        db, "(response_overdue OR resolution_overdue) AND grid_path @> %s", [tree["community"]]
    ) == {late_response, on_time}
    row = ticket_row(db, on_time)
    assert (row["status"], row["response_overdue"], row["resolution_overdue"]) == (
        "responded",
        False,
        True,
    )


def test_tickets_are_queried_by_jurisdiction_subtree(
    governance: Governance, tree: dict[str, str], admin: Meta, project, db: psycopg.Connection
) -> None:
    in_grid = report(governance, tree["grid"])
    in_grid2 = report(governance, tree["grid2"])
    elsewhere = report(governance, tree["other_grid"])
    handle_until_responded(governance, in_grid2)
    project(Tickets())
    governance.define_jurisdiction(admin, code="HG-JS", kind="street", name="建设街道", parent="HG")
    governance.define_jurisdiction(
        admin, code="HG-JS-XY", kind="community", name="新苑社区", parent="HG-JS"
    )
    governance.define_jurisdiction(
        admin, code="HG-JS-XY-01", kind="grid", name="新苑一网格", parent="HG-JS-XY"
    )
    other_street = report(governance, "HG-JS-XY-01")
    project(Tickets())

    def subtree(code: str) -> set[UUID]:
        return ids(db, "grid_path @> %s", [code])

    assert subtree(tree["community"]) == {in_grid, in_grid2}
    assert subtree(tree["grid"]) == {in_grid}
    assert subtree(tree["other_community"]) == {elsewhere}
    assert subtree(tree["street"]) == {in_grid, in_grid2, elsewhere}
    assert subtree(tree["district"]) == {in_grid, in_grid2, elsewhere, other_street}
    assert subtree("HG-JS") == {other_street}
    assert ids(db, "grid_path @> %s AND status = %s", [tree["community"]], "responded") == {
        in_grid2
    }
    assert ids(db, "level = %s", "grid") == {in_grid2}
    row = ticket_row(db, other_street)
    assert (row["district"], row["street"], row["community"], row["grid_path"]) == (
        "HG",
        "HG-JS",
        "HG-JS-XY",
        ["HG", "HG-JS", "HG-JS-XY", "HG-JS-XY-01"],
    )
    paths = {
        code: (kind, path)
        for code, kind, path in db.execute(
            "SELECT code, kind, path FROM ticket_jurisdiction_paths"
        ).fetchall()
    }
    assert paths[tree["grid2"]] == ("grid", ["HG", "HG-WH", "HG-WH-BH", "HG-WH-BH-02"])
    assert paths["HG-JS"] == ("street", ["HG", "HG-JS"])
    assert paths[tree["district"]] == ("district", ["HG"])
    assert len(paths) == 10


def test_the_timeline_has_one_row_per_ticket_event_with_plain_json_details(
    governance: Governance,
    tree: dict[str, str],
    resident: UUID,
    clock: FakeClock,
    project,
    db: psycopg.Connection,
) -> None:
    ticket_id = report(
        governance,
        tree["grid"],
        source="resident",
        reporter_member_id=resident,
        location=LOCATION,
    )
    other = report(governance, tree["grid2"])
    governance.accept_ticket(STAFF, ticket_id)
    in_field, dispatched = clock.now - timedelta(minutes=5), clock.now
    governance.dispatch_ticket(
        Meta(actor=STAFF.actor, occurred_at=in_field), ticket_id, level="grid", assignee="w-1"
    )
    clock.advance(hours=2)
    governance.respond_ticket(WORKER, ticket_id, note="late")
    project(TicketTimeline())
    governance.escalate_ticket(WORKER, ticket_id, to_level="community", reason="too big")
    governance.reject_ticket(STAFF, other, reason="invalid")
    project(TicketTimeline())

    with db.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT * FROM ticket_timeline WHERE ticket_id = %s ORDER BY version", (ticket_id,)
        ).fetchall()
    events = list(governance.events.get(ticket_id))
    assert [r["event_type"] for r in rows] == [
        "Reported",
        "Accepted",
        "Dispatched",
        "ResponseOverdue",
        "Responded",
        "Escalated",
    ]
    assert [r["version"] for r in rows] == [e.originator_version for e in events]
    assert [r["recorded_at"] for r in rows] == [e.timestamp for e in events]
    assert [(r["actor_id"], r["actor_role"]) for r in rows] == [
        (e.actor_id, e.actor_role) for e in events
    ]
    assert [r["occurred_at"] for r in rows] == [None, None, in_field, None, None, None]
    positions = [r["position"] for r in rows]
    assert positions == sorted(positions)
    assert {r["ticket_id"] for r in rows} == {ticket_id}

    reported = rows[0]["details"]
    assert reported["reporter_member_id"] == str(resident)
    # A reporting member's address is sealed in the log (issue 16): the timeline, read
    # straight from it, holds the envelope; the tickets table holds the clear address.
    assert {**reported["location"], "address": None} == {**LOCATION, "address": None}
    assert reported["location"]["address"]["enc"] == "v1"
    assert reported["grid"] == tree["grid"]
    assert reported["respond_due_at"] == events[0].respond_due_at.isoformat()
    assert "actor_id" not in reported and "timestamp" not in reported
    assert rows[2]["details"] == {"level": "grid", "assignee": "w-1", "at": dispatched.isoformat()}
    assert rows[3]["details"] == {"due_at": events[0].respond_due_at.isoformat()}
    assert rows[5]["details"]["to_level"] == "community"
    rejected = db.execute(
        "SELECT event_type, details FROM ticket_timeline WHERE ticket_id = %s AND version = 2",
        (other,),
    ).fetchone()
    assert rejected == ("Rejected", {"reason": "invalid", "duplicate_of": None})
    assert db.execute("SELECT count(*) FROM ticket_timeline").fetchone() == (8,)


def test_incremental_runs_give_the_same_tables_as_a_rebuild_from_zero(
    governance: Governance,
    tree: dict[str, str],
    admin: Meta,
    resident: UUID,
    clock: FakeClock,
    project,
    db: psycopg.Connection,
    database_url: str,
) -> None:
    tickets, timeline = Tickets(), TicketTimeline()
    first = report(governance, tree["grid"], source="resident", reporter_member_id=resident)
    second = report(governance, tree["other_grid"], location=LOCATION)
    handle_until_responded(governance, first)
    project(tickets, timeline)
    clock.advance(hours=100)
    governance.supervise_ticket(STAFF, first, note="hurry")
    governance.resolve_ticket(STAFF, first, resolution="done")
    governance.record_response_overdue(WATCHER, second)
    project(tickets, timeline)
    governance.reopen_ticket(STAFF, first, reason="again")
    governance.define_jurisdiction(
        admin, code="HG-WH-BH-03", kind="grid", name="三", parent=tree["community"]
    )
    third = report(governance, "HG-WH-BH-03", priority="urgent")
    governance.reject_ticket(STAFF, third, reason="duplicate", duplicate_of=first)
    governance.accept_ticket(STAFF, second)
    project(tickets, timeline)
    governance.dispatch_ticket(STAFF, second, level="community", assignee="staff-2")
    governance.respond_ticket(STAFF, second, note="on it")
    governance.escalate_ticket(STAFF, second, to_level="department", reason="pipes")
    project(tickets, timeline)

    keys = {"tickets": "id", "ticket_jurisdiction_paths": "code", "ticket_timeline": "position"}
    for projection in (tickets, timeline):
        scratch = rebuild(database_url, governance.mapper, projection, activate=False)
        small = rebuild(database_url, governance.mapper, projection, batch_size=3, activate=False)
        assert (scratch, small) == (2, 3)
        assert checksums(db, projection, 1) == checksums(db, projection, scratch)
        assert checksums(db, projection, 1) == checksums(db, projection, small)
        for base in projection.tables:
            incremental = all_rows(db, physical(base, 1), keys[base])
            assert incremental == all_rows(db, physical(base, scratch), keys[base])
            assert incremental == all_rows(db, physical(base, small), keys[base])
    assert len(all_rows(db, "tickets", "id")) == 3
    assert ticket_row(db, second)["level"] == "department"
