"""The pledges and pledge sessions query tables, fed through Governance."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

import psycopg

from domain.application import Governance
from domain.commands.base import Meta
from domain.context import Actor
from projections.engine.batch import physical
from projections.engine.rebuild import rebuild
from projections.views.pledges import Pledges
from tests.fakes import FakeClock
from tests.readside import all_rows

STAFF = Meta(actor=Actor("staff-1", "community_staff"))
CHECKER = Meta(actor=Actor("staff-2", "grid_worker"))
TABLES = {"pledges": "id", "pledge_sessions": "pledge_id, session_no"}
TODAY = date(2026, 3, 2)


def register(gov: Governance, admin: Meta, name: str, grid: str) -> UUID:
    return gov.register_member(
        admin, name=name, phone="13800138000", kind="in_service", party_member=True, home_grid=grid
    ).id


def pledge(
    gov: Governance, member: UUID, community: str, target: str, due_on: date, title: str = "探访"
) -> UUID:
    return gov.make_pledge(
        STAFF, member_id=member, community=community, kind="service_item", title=title,
        target_hours=Decimal(target), due_on=due_on,
    ).id  # fmt: skip


def test_pledges_and_sessions_follow_every_event(
    governance: Governance, admin: Meta, tree: dict[str, str], clock: FakeClock, project,
    db: psycopg.Connection, database_url: str,
) -> None:  # fmt: skip
    gov, start, community = governance, clock.now, tree["community"]
    m1, m2 = register(gov, admin, "王芳", tree["grid"]), register(gov, admin, "李强", tree["grid"])
    kept = pledge(gov, m1, community, "3", date(2026, 3, 31), title="每周探访独居老人")
    gov.accept_pledge(STAFF, kept)
    gov.log_session(STAFF, kept, hours=Decimal("1.5"), on=TODAY, note="陪聊")
    gov.log_session(STAFF, kept, hours=Decimal("2"), on=TODAY)
    late = pledge(gov, m1, community, "10", TODAY)
    project(Pledges())
    clock.advance(hours=1)
    gov.verify_session(CHECKER, kept, 1)
    gov.accept_pledge(STAFF, late)
    gov.log_session(STAFF, late, hours=Decimal("1"), on=TODAY)
    gov.verify_session(CHECKER, late, 1)
    project(Pledges())
    clock.advance(hours=1)
    gov.verify_session(CHECKER, kept, 2)  # reaches the target: fulfilled
    gov.review_pledge(CHECKER, kept, rating=5, comment="认真负责")
    dropped = pledge(gov, m2, tree["other_community"], "5", date(2026, 4, 30))
    gov.withdraw_pledge(STAFF, dropped, reason="搬家")
    waiting = pledge(gov, m2, community, "2", date(2026, 4, 30))
    clock.advance(days=1)
    gov.lapse_pledge(admin, late)
    gov.review_pledge(STAFF, late, rating=2)
    project(Pledges())

    rows = {row["id"]: row for row in all_rows(db, "pledges", "id")}
    hour = timedelta(hours=1)
    assert rows[kept] == {
        "id": kept, "member_id": m1, "community": community, "kind": "service_item",
        "title": "每周探访独居老人", "status": "fulfilled", "target_hours": Decimal("3.00"),
        "verified_hours": Decimal("3.50"), "logged_hours": Decimal("3.50"), "session_count": 2,
        "due_on": date(2026, 3, 31), "pledged_at": start, "accepted_at": start,
        "fulfilled_at": start + 2 * hour, "lapsed_at": None, "withdrawn_at": None,
        "withdrawal_reason": None,
        "review": {"rating": 5, "comment": "认真负责", "reviewed_by": "staff-2",
                   "reviewed_at": (start + 2 * hour).isoformat()},
        "version": gov.pledge(kept).version, "last_position": rows[kept]["last_position"],
    }  # fmt: skip
    last = db.execute(
        "SELECT max(notification_id) FROM governance_events WHERE originator_id = %s", (kept,)
    ).fetchone()
    assert last == (rows[kept]["last_position"],)
    assert {k: rows[late][k] for k in ("status", "verified_hours", "lapsed_at", "review")} == {
        "status": "lapsed", "verified_hours": Decimal("1.00"), "lapsed_at": start + 26 * hour,
        "review": {"rating": 2, "comment": None, "reviewed_by": "staff-1",
                   "reviewed_at": (start + 26 * hour).isoformat()},
    }  # fmt: skip
    assert (rows[late]["accepted_at"], rows[late]["fulfilled_at"]) == (start + hour, None)
    assert {k: rows[dropped][k] for k in ("status", "withdrawn_at", "withdrawal_reason")} == {
        "status": "withdrawn", "withdrawn_at": start + 2 * hour, "withdrawal_reason": "搬家",
    }  # fmt: skip
    assert (rows[waiting]["status"], rows[waiting]["accepted_at"], rows[waiting]["review"]) == (
        "pledged", None, None,
    )  # fmt: skip
    assert (rows[waiting]["verified_hours"], rows[waiting]["session_count"]) == (0, 0)

    sessions = all_rows(db, "pledge_sessions", "pledge_id, session_no")
    by_key = {(s["pledge_id"], s["session_no"]): s for s in sessions}
    assert by_key[(kept, 1)] == {
        "pledge_id": kept, "session_no": 1, "hours": Decimal("1.50"), "on": TODAY, "note": "陪聊",
        "logged_at": start, "verified": True, "verified_by": "staff-2",
        "verified_at": start + hour,
    }  # fmt: skip
    assert by_key[(kept, 2)]["note"] is None
    assert by_key[(kept, 2)]["verified_at"] == start + 2 * hour
    assert by_key[(late, 1)]["verified_by"] == "staff-2"
    assert len(sessions) == 3

    by_member = db.execute(
        "SELECT id FROM pledges WHERE member_id = %s ORDER BY pledged_at, id", (m2,)
    ).fetchall()
    assert {r[0] for r in by_member} == {dropped, waiting}
    open_here = db.execute(
        "SELECT id FROM pledges WHERE community = %s AND status = 'pledged'", (community,)
    ).fetchall()
    assert open_here == [(waiting,)]

    for batch_size in (1, 1000):
        generation = rebuild(
            database_url, gov.mapper, Pledges(), batch_size=batch_size, activate=False
        )
        for table, order in TABLES.items():
            again = all_rows(db, physical(table, generation), order)
            assert again == all_rows(db, table, order), (table, batch_size)
