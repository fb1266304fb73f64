"""The activities and attendance query tables, fed through Governance."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import psycopg

from domain.application import Governance
from domain.commands.base import Meta
from projections.engine.batch import physical
from projections.engine.rebuild import rebuild
from projections.views.activities import Activities
from tests.fakes import FakeClock
from tests.readside import all_rows

TABLES = {"activities": "id", "activity_attendance": "activity_id, member_id"}


def register(gov: Governance, admin: Meta, name: str, grid: str) -> UUID:
    return gov.register_member(
        admin, name=name, phone="13800138000", kind="resident", party_member=False, home_grid=grid
    ).id


def test_activities_and_attendance_follow_every_event(
    governance: Governance, admin: Meta, tree: dict[str, str], clock: FakeClock, project,
    db: psycopg.Connection, database_url: str,
) -> None:  # fmt: skip
    gov, start = governance, clock.now
    gov.put_rule(
        admin, tree["community"], "ACT", description="参加活动", points=5, kind="award",
        caps=None, requires_approval=False, trigger="activity_attendance",
    )  # fmt: skip
    m1, m2, m3 = (register(gov, admin, n, tree["grid"]) for n in ("王芳", "李强", "赵敏"))
    nine, eleven = start + timedelta(hours=1), start + timedelta(hours=3)
    main = gov.schedule_activity(
        admin, title="清洁家园", jurisdiction=tree["grid"], starts_at=nine, ends_at=eleven,
        points_rule="ACT",
    ).id  # fmt: skip
    dropped = gov.schedule_activity(
        admin, title="读书会", jurisdiction=tree["community"], starts_at=nine, ends_at=eleven
    ).id
    early = gov.schedule_activity(
        admin, title="义诊", jurisdiction=tree["grid2"], starts_at=nine, ends_at=eleven
    ).id
    project(Activities())
    clock.advance(minutes=40)
    gov.check_in(admin, main, member_id=m1)
    gov.check_in(admin, early, member_id=m3)
    clock.advance(minutes=5)
    gov.check_in(admin, main, member_id=m2)
    project(Activities())
    clock.advance(minutes=5)
    gov.check_out(admin, early, member_id=m3)  # before it starts: 0.00 hours, not completed
    clock.set(start + timedelta(hours=2))
    gov.check_out(admin, main, member_id=m1)
    gov.cancel_activity(admin, dropped, reason="下雨")
    project(Activities())
    clock.set(start + timedelta(hours=3, minutes=10))
    gov.close_activity(admin, main)
    gov.close_activity(admin, early)
    quick = gov.schedule_activity(
        admin, title="快闪", jurisdiction=tree["grid"], starts_at=clock.now - timedelta(minutes=30),
        ends_at=clock.now + timedelta(hours=1),
    ).id  # fmt: skip
    gov.check_in(admin, quick, member_id=m1)
    clock.advance(minutes=45)
    gov.check_out(admin, quick, member_id=m1)
    gov.close_activity(admin, quick)
    project(Activities())

    activities = {row["id"]: row for row in all_rows(db, "activities", "id")}
    assert activities[main] == {
        "id": main, "title": "清洁家园", "jurisdiction": tree["grid"],
        "community": tree["community"], "starts_at": nine, "ends_at": eleven,
        "points_rule": "ACT", "status": "closed", "attendee_count": 2, "completed_count": 1,
        "total_hours": Decimal("1.00"), "scheduled_at": start,
        "closed_at": start + timedelta(hours=3, minutes=10), "cancelled_at": None,
        "cancellation_reason": None, "version": gov.activity(main).version,
        "last_position": activities[main]["last_position"],
    }  # fmt: skip
    assert activities[dropped] | {"last_position": 0} == {
        "id": dropped, "title": "读书会", "jurisdiction": tree["community"],
        "community": tree["community"], "starts_at": nine, "ends_at": eleven,
        "points_rule": None, "status": "cancelled", "attendee_count": 0, "completed_count": 0,
        "total_hours": Decimal("0.00"), "scheduled_at": start, "closed_at": None,
        "cancelled_at": start + timedelta(hours=2), "cancellation_reason": "下雨",
        "version": 2, "last_position": 0,
    }  # fmt: skip
    summary = {
        key: (a["status"], a["attendee_count"], a["completed_count"], a["total_hours"])
        for key, a in activities.items()
    }
    assert summary[early] == ("closed", 1, 0, Decimal("0.00"))
    assert summary[quick] == ("closed", 1, 1, Decimal("0.75"))
    last = db.execute(
        "SELECT max(notification_id) FROM governance_events WHERE originator_id = %s", (main,)
    ).fetchone()
    assert last == (activities[main]["last_position"],)

    attendance = db.execute(
        "SELECT member_id, checked_in_at, checked_out_at, hours, completed"
        " FROM activity_attendance WHERE activity_id = %s ORDER BY checked_in_position", (main,)
    ).fetchall()  # fmt: skip
    assert attendance == [
        (m1, start + timedelta(minutes=40), start + timedelta(hours=2), Decimal("1.00"), True),
        (m2, start + timedelta(minutes=45), None, Decimal("0.00"), False),
    ]
    others = db.execute(
        "SELECT activity_id, member_id, hours, completed FROM activity_attendance"
        " WHERE activity_id <> %s ORDER BY checked_in_position", (main,)
    ).fetchall()  # fmt: skip
    assert others == [(early, m3, Decimal("0.00"), False), (quick, m1, Decimal("0.75"), True)]

    for batch_size in (1, 1000):
        generation = rebuild(
            database_url, gov.mapper, Activities(), batch_size=batch_size, activate=False
        )
        for table, order in TABLES.items():
            again = all_rows(db, physical(table, generation), order)
            assert again == all_rows(db, table, order), (table, batch_size)


def test_an_open_activity_shows_attendance_before_anyone_checks_out(
    governance: Governance, admin: Meta, tree: dict[str, str], clock: FakeClock, project,
    db: psycopg.Connection,
) -> None:  # fmt: skip
    member = register(governance, admin, "王芳", tree["grid"])
    activity = governance.schedule_activity(
        admin, title="巡河", jurisdiction=tree["grid"], starts_at=clock.now,
        ends_at=clock.now + timedelta(hours=2),
    ).id  # fmt: skip
    governance.check_in(admin, activity, member_id=member)
    project(Activities())
    row = db.execute(
        "SELECT a.status, a.attendee_count, a.completed_count, a.total_hours, t.checked_out_at,"
        " t.hours, t.completed FROM activities a JOIN activity_attendance t"
        " ON t.activity_id = a.id WHERE a.id = %s", (activity,)
    ).fetchone()  # fmt: skip
    assert row == ("scheduled", 1, 0, Decimal("0.00"), None, None, False)
