"""Activities through `Governance` on PostgreSQL: attendance, closing with points, refusals."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from domain.activity import Activity
from domain.application import Governance
from domain.commands.base import Meta
from domain.errors import (
    ActivityHasAttendanceError,
    ActivityNotStartedError,
    CheckOutWithoutCheckInError,
    DoubleCheckInError,
    InvalidTransitionError,
    NotFoundError,
    RuleViolationError,
    WrongJurisdictionKindError,
)
from tests.fakes import FakeClock
from tests.writeside import assert_records_nothing, max_position, transactions_after

RULE = "ACT-ATTEND"


def register(gov: Governance, admin: Meta, name: str, grid: str) -> UUID:
    result = gov.register_member(
        admin, name=name, phone="13800000000", kind="resident", party_member=False, home_grid=grid
    )
    return result.id


def put_rule(gov: Governance, admin: Meta, community: str, trigger: str, points: int = 5) -> None:
    gov.put_rule(
        admin,
        community,
        RULE,
        description="参加志愿服务活动",
        points=points,
        kind="award",
        caps=None,
        requires_approval=False,
        trigger=trigger,
    )


def schedule(
    gov: Governance, admin: Meta, clock: FakeClock, jurisdiction: str, **overrides: object
) -> UUID:
    fields: dict[str, object] = {
        "title": "清洁家园志愿服务",
        "jurisdiction": jurisdiction,
        "starts_at": clock.now + timedelta(hours=1),
        "ends_at": clock.now + timedelta(hours=3),
        **overrides,
    }
    return gov.schedule_activity(admin, **fields).id  # type: ignore[arg-type]  # fields of mixed types, overridden per test


@pytest.fixture
def members(governance: Governance, admin: Meta, tree: dict[str, str]) -> list[UUID]:
    return [register(governance, admin, name, tree["grid"]) for name in ("张三", "李四", "王五")]


def test_an_activity_is_scheduled_in_a_grid_and_belongs_to_its_community(
    governance: Governance, admin: Meta, clock: FakeClock, tree: dict[str, str]
) -> None:
    result = governance.schedule_activity(
        admin,
        title="清洁家园志愿服务",
        jurisdiction=tree["grid"],
        starts_at=clock.now + timedelta(hours=1),
        ends_at=clock.now + timedelta(hours=3),
    )
    assert (result.version, result.extra) == (1, {"status": "scheduled"})
    assert result.position == max_position(governance)
    activity = governance.activity(result.id)
    assert (activity.jurisdiction, activity.community) == (tree["grid"], tree["community"])
    assert activity.starts_at == clock.now + timedelta(hours=1)
    assert (activity.status, activity.points_rule) == ("scheduled", None)
    (scheduled,) = governance.events.get(result.id)
    assert (scheduled.actor_id, scheduled.recorded_at) == ("admin-1", clock.now)


def test_an_activity_is_scheduled_in_a_community_too(
    governance: Governance, admin: Meta, clock: FakeClock, tree: dict[str, str]
) -> None:
    activity = governance.activity(schedule(governance, admin, clock, tree["community"]))
    assert activity.community == tree["community"]


def test_an_activity_needs_a_community_or_grid(
    governance: Governance, admin: Meta, clock: FakeClock, tree: dict[str, str]
) -> None:
    assert_records_nothing(
        governance,
        WrongJurisdictionKindError,
        lambda: schedule(governance, admin, clock, tree["street"]),
    )
    assert_records_nothing(
        governance, NotFoundError, lambda: schedule(governance, admin, clock, "NOWHERE")
    )


def test_an_unknown_activity_is_not_found(governance: Governance) -> None:
    with pytest.raises(NotFoundError):
        governance.activity("not-an-id")


def test_a_points_rule_must_be_an_attendance_award_in_the_communitys_rulebook(
    governance: Governance, admin: Meta, clock: FakeClock, tree: dict[str, str]
) -> None:
    assert_records_nothing(
        governance,
        RuleViolationError,
        lambda: schedule(governance, admin, clock, tree["grid"], points_rule=RULE),
    )
    put_rule(governance, admin, tree["community"], "valid_report")
    assert_records_nothing(
        governance,
        RuleViolationError,
        lambda: schedule(governance, admin, clock, tree["grid"], points_rule=RULE),
    )
    put_rule(governance, admin, tree["other_community"], "activity_attendance")
    assert_records_nothing(
        governance,
        RuleViolationError,
        lambda: schedule(governance, admin, clock, tree["grid"], points_rule=RULE),
    )
    put_rule(governance, admin, tree["community"], "activity_attendance")
    activity_id = schedule(governance, admin, clock, tree["grid"], points_rule=RULE)
    assert governance.activity(activity_id).points_rule == RULE


def test_attendance_is_saved_and_reloaded_and_each_version_can_be_read(
    governance: Governance,
    admin: Meta,
    clock: FakeClock,
    tree: dict[str, str],
    members: list[UUID],
) -> None:
    alice = members[0]
    activity_id = schedule(governance, admin, clock, tree["grid"])
    starts = governance.activity(activity_id).starts_at
    clock.set(starts + timedelta(minutes=10))
    checked_in = governance.check_in(admin, activity_id, member_id=alice)
    clock.advance(hours=1)
    checked_out = governance.check_out(
        admin, activity_id, member_id=str(alice), at=starts + timedelta(minutes=55)
    )
    assert checked_out.extra == {"hours": Decimal("0.75")}
    assert checked_out.position > checked_in.position

    activity = governance.activity(activity_id)
    assert activity.version == 3
    assert activity.attendee(alice) == {
        "member_id": alice,
        "checked_in_at": starts + timedelta(minutes=10),
        "checked_out_at": starts + timedelta(minutes=55),
        "hours": Decimal("0.75"),
        "completed": True,
    }
    then = governance.repository.get(activity_id, version=2)
    assert then.attendee(alice)["checked_out_at"] is None
    assert then.attendee(alice)["hours"] is None
    assert governance.repository.get(activity_id, version=1).attendance == {}
    events = list(governance.events.get(activity_id))
    assert [type(e) for e in events] == [
        Activity.Scheduled,
        Activity.CheckedIn,
        Activity.CheckedOut,
    ]
    assert events[1].recorded_at == starts + timedelta(minutes=10)


def test_refused_attendance_records_nothing(
    governance: Governance,
    admin: Meta,
    clock: FakeClock,
    tree: dict[str, str],
    members: list[UUID],
) -> None:
    alice, bob, _ = members
    activity_id = schedule(governance, admin, clock, tree["grid"])
    clock.advance(hours=1)
    governance.check_in(admin, activity_id, member_id=alice)
    assert_records_nothing(
        governance,
        DoubleCheckInError,
        lambda: governance.check_in(admin, activity_id, member_id=alice),
    )
    assert_records_nothing(
        governance,
        CheckOutWithoutCheckInError,
        lambda: governance.check_out(admin, activity_id, member_id=bob),
    )
    assert_records_nothing(
        governance,
        NotFoundError,
        lambda: governance.check_in(admin, activity_id, member_id=activity_id),
    )
    assert_records_nothing(
        governance,
        NotFoundError,
        lambda: governance.check_in(admin, members[2], member_id=bob),
    )
    assert_records_nothing(
        governance,
        ActivityHasAttendanceError,
        lambda: governance.cancel_activity(admin, activity_id, reason="改期"),
    )
    assert governance.activity(activity_id).version == 2


def test_an_activity_cannot_be_closed_before_it_starts(
    governance: Governance, admin: Meta, clock: FakeClock, tree: dict[str, str]
) -> None:
    activity_id = schedule(governance, admin, clock, tree["grid"])
    assert_records_nothing(
        governance,
        ActivityNotStartedError,
        lambda: governance.close_activity(admin, activity_id),
    )


def test_closing_without_a_points_rule_counts_attendance_and_awards_nothing(
    governance: Governance,
    admin: Meta,
    clock: FakeClock,
    tree: dict[str, str],
    members: list[UUID],
) -> None:
    alice, bob, _ = members
    activity_id = schedule(governance, admin, clock, tree["grid"])
    clock.advance(hours=1)
    governance.check_in(admin, activity_id, member_id=alice)
    governance.check_in(admin, activity_id, member_id=bob)
    clock.advance(hours=2)
    governance.check_out(admin, activity_id, member_id=alice)
    before = max_position(governance)
    result = governance.close_activity(admin, activity_id)
    assert result.extra == {"status": "closed", "attendees": 2, "completed": 1, "awarded": 0}
    assert max_position(governance) == before + 1 == result.position
    activity = governance.activity(activity_id)
    assert activity.status == "closed"
    assert activity.attendee(alice)["hours"] == Decimal("2.00")
    assert activity.attendee(bob)["hours"] == Decimal("0.00")
    with pytest.raises(NotFoundError):
        governance.points_account(alice, tree["community"])


def test_closing_awards_every_completed_attendee_once_in_one_transaction(
    governance: Governance,
    database_url: str,
    admin: Meta,
    clock: FakeClock,
    tree: dict[str, str],
    members: list[UUID],
) -> None:
    alice, bob, carol = members
    community = tree["community"]
    put_rule(governance, admin, community, "activity_attendance", points=5)
    activity_id = schedule(governance, admin, clock, tree["grid"], points_rule=RULE)
    clock.advance(hours=1)
    for member_id in members:
        governance.check_in(admin, activity_id, member_id=member_id)
    clock.advance(hours=1)
    governance.check_out(admin, activity_id, member_id=alice)
    governance.check_out(admin, activity_id, member_id=bob)
    clock.advance(hours=2)

    before = max_position(governance)
    result = governance.close_activity(admin, activity_id)

    assert result.extra == {"status": "closed", "attendees": 3, "completed": 2, "awarded": 2}
    assert governance.points_account(alice, community).balance == 5
    assert governance.points_account(bob, community).balance == 5
    with pytest.raises(NotFoundError):
        governance.points_account(carol, community)
    recorded = governance.recorder.select_notifications(start=before + 1, limit=100)
    positions = [n.id for n in recorded]
    assert positions == list(range(before + 1, before + 1 + len(recorded)))
    assert positions[-1] == result.position == max_position(governance)
    originators = {n.originator_id for n in recorded}
    accounts = {governance.points_account(m, community).id for m in (alice, bob)}
    assert {activity_id, *accounts} <= originators
    assert [n.originator_id for n in recorded].count(activity_id) == 1
    assert len(transactions_after(governance, database_url, before)) == 1

    assert_records_nothing(
        governance, InvalidTransitionError, lambda: governance.close_activity(admin, activity_id)
    )
    assert governance.points_account(alice, community).balance == 5
    assert governance.points_account(bob, community).balance == 5


def test_a_repeated_close_with_the_same_idempotency_key_answers_alike_and_awards_once(
    governance: Governance,
    admin: Meta,
    clock: FakeClock,
    tree: dict[str, str],
    members: list[UUID],
) -> None:
    alice = members[0]
    community = tree["community"]
    put_rule(governance, admin, community, "activity_attendance", points=3)
    activity_id = schedule(governance, admin, clock, tree["grid"], points_rule=RULE)
    clock.advance(hours=1)
    governance.check_in(admin, activity_id, member_id=alice)
    clock.advance(hours=1)
    governance.check_out(admin, activity_id, member_id=alice)
    keyed = replace(admin, idempotency_key="close-1")
    first = governance.close_activity(keyed, activity_id)
    before = max_position(governance)
    assert governance.close_activity(keyed, activity_id) == first
    assert max_position(governance) == before
    assert governance.points_account(alice, community).balance == 3


def test_a_cancelled_activity_is_saved_and_takes_no_attendance(
    governance: Governance,
    admin: Meta,
    clock: FakeClock,
    tree: dict[str, str],
    members: list[UUID],
) -> None:
    activity_id = schedule(governance, admin, clock, tree["grid"])
    result = governance.cancel_activity(admin, activity_id, reason="暴雨预警")
    assert result.extra == {"status": "cancelled"}
    activity = governance.activity(activity_id)
    assert (activity.status, activity.cancellation_reason) == ("cancelled", "暴雨预警")
    assert activity.cancelled_at == clock.now
    clock.advance(hours=1)
    assert_records_nothing(
        governance,
        InvalidTransitionError,
        lambda: governance.check_in(admin, activity_id, member_id=members[0]),
    )
    assert_records_nothing(
        governance, InvalidTransitionError, lambda: governance.close_activity(admin, activity_id)
    )


def test_a_late_sync_records_the_field_time_of_a_check_in(
    governance: Governance,
    admin: Meta,
    clock: FakeClock,
    tree: dict[str, str],
    members: list[UUID],
) -> None:
    activity_id = schedule(governance, admin, clock, tree["grid"])
    starts: datetime = governance.activity(activity_id).starts_at
    clock.set(starts + timedelta(hours=5))
    field = replace(admin, occurred_at=starts + timedelta(minutes=3))
    governance.check_in(field, activity_id, member_id=members[0])
    record = governance.activity(activity_id).attendee(members[0])
    assert record["checked_in_at"] == starts + timedelta(minutes=3)
    last = list(governance.events.get(activity_id))[-1]
    assert (last.occurred_at, last.recorded_at) == (starts + timedelta(minutes=3), clock.now)
