"""Activities (活动, 签到/签退), aggregate level: every transition and rule, allowed and refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, UUIDAsHex

from domain.activity import Activity, overlap_hours
from domain.context import Actor, acting
from domain.errors import (
    ActivityHasAttendanceError,
    ActivityNotStartedError,
    ActivityTimesError,
    ActivityValueError,
    AttendanceInFutureError,
    AttendanceWindowError,
    CheckOutBeforeCheckInError,
    CheckOutWithoutCheckInError,
    DomainError,
    DoubleCheckInError,
    DoubleCheckOutError,
    InvalidTransitionError,
)
from domain.transcodings import DateAsISO

SCHEDULED_AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
STARTS = datetime(2026, 3, 7, 1, 0, tzinfo=UTC)  # 09:00 on 7 March in Shanghai
ENDS = datetime(2026, 3, 7, 3, 0, tzinfo=UTC)
DURING = STARTS + timedelta(hours=1)
AFTER = ENDS + timedelta(hours=4)
GRACE = timedelta(minutes=30)
STAFF = Actor("staff-1", "community_staff")
ALICE = uuid4()
BOB = uuid4()


def at(minutes: float) -> datetime:
    """A moment `minutes` after the activity starts."""
    return STARTS + timedelta(minutes=minutes)


def schedule(**overrides: object) -> Activity:
    fields: dict[str, object] = {
        "title": "  清洁家园志愿服务  ",
        "jurisdiction": "HG-WH-BH-01",
        "community": "HG-WH-BH",
        "starts_at": STARTS,
        "ends_at": ENDS,
        "points_rule": None,
        **overrides,
    }
    with acting(STAFF, now=SCHEDULED_AT):
        return Activity.schedule(**fields)  # type: ignore[arg-type]  # fields of mixed types, overridden per test


def scheduled() -> Activity:
    activity = schedule()
    activity.collect_events()
    return activity


def attended(*visits: tuple[UUID, datetime, datetime | None]) -> Activity:
    activity = scheduled()
    with acting(STAFF, now=AFTER):
        for member_id, checked_in_at, _ in visits:
            activity.check_in(member_id, checked_in_at)
        for member_id, _, checked_out_at in visits:
            if checked_out_at is not None:
                activity.check_out(member_id, checked_out_at)
    activity.collect_events()
    return activity


def checked_in(member_id: UUID = ALICE, when: datetime = STARTS) -> Activity:
    return attended((member_id, when, None))


def closed() -> Activity:
    activity = attended((ALICE, STARTS, ENDS))
    with acting(STAFF, now=AFTER):
        activity.close()
    activity.collect_events()
    return activity


def cancelled() -> Activity:
    activity = scheduled()
    with acting(STAFF, now=SCHEDULED_AT):
        activity.cancel("暴雨预警")
    activity.collect_events()
    return activity


def assert_refused(
    activity: Activity,
    error: type[DomainError],
    action: Callable[[Activity], object],
    now: datetime = AFTER,
    occurred_at: datetime | None = None,
) -> DomainError:
    activity.collect_events()
    before = (activity.version, activity.status, repr(activity.attendance))
    with acting(STAFF, now=now, occurred_at=occurred_at), pytest.raises(error) as refused:
        action(activity)
    assert activity.collect_events() == []
    assert (activity.version, activity.status, repr(activity.attendance)) == before
    return refused.value


# --- scheduling ---


def test_a_community_or_grid_schedules_an_activity() -> None:
    activity = schedule(points_rule=" ACT-1 ")
    assert [type(e) for e in activity.collect_events()] == [Activity.Scheduled]
    assert activity.status == "scheduled"
    assert activity.title == "清洁家园志愿服务"
    assert (activity.jurisdiction, activity.community) == ("HG-WH-BH-01", "HG-WH-BH")
    assert (activity.starts_at, activity.ends_at) == (STARTS, ENDS)
    assert activity.points_rule == "ACT-1"
    assert activity.attendance == {}
    assert (activity.closed_at, activity.cancelled_at, activity.cancellation_reason) == (
        None,
        None,
        None,
    )


def test_the_scheduled_event_records_who_scheduled_it_and_when() -> None:
    (scheduled_event,) = schedule().collect_events()
    assert (scheduled_event.actor_id, scheduled_event.actor_role) == ("staff-1", "community_staff")
    assert scheduled_event.recorded_at == SCHEDULED_AT


def test_an_activity_needs_no_points_rule() -> None:
    assert schedule().points_rule is None


def test_times_with_any_offset_are_kept_in_utc() -> None:
    shanghai = timezone(timedelta(hours=8))
    activity = schedule(
        starts_at=datetime(2026, 3, 7, 9, 0, tzinfo=shanghai),
        ends_at=datetime(2026, 3, 7, 11, 0, tzinfo=shanghai),
    )
    assert (activity.starts_at, activity.ends_at) == (STARTS, ENDS)
    assert activity.starts_at.tzinfo is UTC


@pytest.mark.parametrize("title", ["", "   "])
def test_an_activity_needs_a_title(title: str) -> None:
    with pytest.raises(ActivityValueError):
        schedule(title=title)


def test_a_blank_points_rule_is_refused() -> None:
    with pytest.raises(ActivityValueError):
        schedule(points_rule="  ")


@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
def test_times_without_a_time_zone_are_refused(field: str) -> None:
    naive = {"starts_at": STARTS, "ends_at": ENDS}[field].replace(tzinfo=None)
    with pytest.raises(ActivityValueError):
        schedule(**{field: naive})


@pytest.mark.parametrize("ends_at", [STARTS, STARTS - timedelta(minutes=1)])
def test_an_activity_must_end_after_it_starts(ends_at: datetime) -> None:
    with pytest.raises(ActivityTimesError):
        schedule(ends_at=ends_at)


def test_an_activity_may_last_seven_days_but_no_longer() -> None:
    assert schedule(ends_at=STARTS + timedelta(days=7)).ends_at == STARTS + timedelta(days=7)
    with pytest.raises(ActivityTimesError):
        schedule(ends_at=STARTS + timedelta(days=7, seconds=1))


def test_an_activity_may_be_scheduled_after_it_took_place() -> None:
    with acting(STAFF, now=AFTER + timedelta(days=30)):
        activity = Activity.schedule(
            title="补录", jurisdiction="G", community="C", starts_at=STARTS, ends_at=ENDS
        )
    assert activity.status == "scheduled"


# --- checking in ---


def test_a_member_checks_in_at_the_time_given() -> None:
    activity = scheduled()
    with acting(STAFF, now=AFTER):
        activity.check_in(ALICE, at(5))
    (checked_in_event,) = activity.collect_events()
    assert isinstance(checked_in_event, Activity.CheckedIn)
    assert (checked_in_event.member_id, checked_in_event.at) == (ALICE, at(5))
    assert activity.attendee(ALICE) == {
        "member_id": ALICE,
        "checked_in_at": at(5),
        "checked_out_at": None,
        "hours": None,
        "completed": False,
    }
    assert list(activity.attendance) == [str(ALICE)]


def test_a_check_in_without_a_time_happens_now() -> None:
    activity = scheduled()
    with acting(STAFF, now=DURING):
        activity.check_in(ALICE)
    assert activity.attendee(ALICE)["checked_in_at"] == DURING


def test_a_check_in_without_a_time_happens_when_it_occurred_in_the_field() -> None:
    activity = scheduled()
    with acting(STAFF, now=AFTER, occurred_at=at(10)):
        activity.check_in(ALICE)
    assert activity.attendee(ALICE)["checked_in_at"] == at(10)


def test_a_check_in_time_without_a_time_zone_is_refused() -> None:
    assert_refused(
        scheduled(), ActivityValueError, lambda a: a.check_in(ALICE, DURING.replace(tzinfo=None))
    )


def test_a_member_cannot_check_in_twice() -> None:
    activity = checked_in()
    error = assert_refused(activity, DoubleCheckInError, lambda a: a.check_in(ALICE, at(30)))
    assert error.rule == "activity.double_check_in"


def test_other_members_check_in_alongside() -> None:
    activity = checked_in()
    with acting(STAFF, now=AFTER):
        activity.check_in(BOB, at(1))
    assert list(activity.attendance) == [str(ALICE), str(BOB)]


@pytest.mark.parametrize("when", [STARTS - GRACE, ENDS + GRACE, at(0), ENDS])
def test_a_check_in_is_allowed_within_the_window_and_its_grace(when: datetime) -> None:
    activity = scheduled()
    with acting(STAFF, now=AFTER):
        activity.check_in(ALICE, when)
    assert activity.attendee(ALICE)["checked_in_at"] == when


@pytest.mark.parametrize(
    "when", [STARTS - GRACE - timedelta(seconds=1), ENDS + GRACE + timedelta(seconds=1)]
)
def test_a_check_in_outside_the_window_and_its_grace_is_refused(when: datetime) -> None:
    error = assert_refused(scheduled(), AttendanceWindowError, lambda a: a.check_in(ALICE, when))
    assert error.rule == "activity.attendance_window"


def test_a_check_in_later_than_the_servers_clock_is_refused() -> None:
    assert_refused(
        scheduled(), AttendanceInFutureError, lambda a: a.check_in(ALICE, at(6)), now=at(0)
    )


def test_a_check_in_from_a_device_a_few_minutes_fast_is_accepted() -> None:
    activity = scheduled()
    with acting(STAFF, now=at(0)):
        activity.check_in(ALICE, at(5))
    assert activity.attendee(ALICE)["checked_in_at"] == at(5)


def test_a_field_time_later_than_the_servers_clock_is_refused() -> None:
    assert_refused(
        scheduled(),
        AttendanceInFutureError,
        lambda a: a.check_in(ALICE),
        now=at(0),
        occurred_at=at(30),
    )


@pytest.mark.parametrize("state", [closed, cancelled])
def test_nobody_checks_in_to_an_activity_that_is_over(state: Callable[[], Activity]) -> None:
    error = assert_refused(state(), InvalidTransitionError, lambda a: a.check_in(BOB, at(5)))
    assert error.rule == "activity.transition"


# --- checking out ---


def test_a_member_checks_out_and_earns_the_hours_inside_the_window() -> None:
    activity = checked_in(when=at(-20))
    with acting(STAFF, now=AFTER):
        hours = activity.check_out(ALICE, at(90))
    (checked_out_event,) = activity.collect_events()
    assert isinstance(checked_out_event, Activity.CheckedOut)
    assert (checked_out_event.member_id, checked_out_event.at) == (ALICE, at(90))
    assert checked_out_event.hours == hours == Decimal("1.50")
    assert activity.attendee(ALICE) == {
        "member_id": ALICE,
        "checked_in_at": at(-20),
        "checked_out_at": at(90),
        "hours": Decimal("1.50"),
        "completed": True,
    }


def test_a_check_out_without_a_time_happens_now() -> None:
    activity = checked_in()
    with acting(STAFF, now=at(45)):
        activity.check_out(ALICE)
    assert activity.attendee(ALICE)["checked_out_at"] == at(45)
    assert activity.attendee(ALICE)["hours"] == Decimal("0.75")


def test_a_member_who_never_checked_in_cannot_check_out() -> None:
    error = assert_refused(
        checked_in(), CheckOutWithoutCheckInError, lambda a: a.check_out(BOB, at(60))
    )
    assert error.rule == "activity.check_out_without_check_in"


def test_a_member_cannot_check_out_twice() -> None:
    activity = attended((ALICE, STARTS, at(60)))
    assert_refused(activity, DoubleCheckOutError, lambda a: a.check_out(ALICE, at(90)))


def test_a_check_out_may_not_come_before_the_check_in() -> None:
    activity = checked_in(when=at(30))
    assert_refused(activity, CheckOutBeforeCheckInError, lambda a: a.check_out(ALICE, at(29)))


def test_a_check_out_at_the_check_in_time_earns_nothing_and_does_not_complete() -> None:
    activity = checked_in(when=at(30))
    with acting(STAFF, now=AFTER):
        assert activity.check_out(ALICE, at(30)) == Decimal("0.00")
    assert activity.attendee(ALICE)["completed"] is False


def test_a_check_out_outside_the_window_and_its_grace_is_refused() -> None:
    late = ENDS + GRACE + timedelta(seconds=1)
    assert_refused(checked_in(), AttendanceWindowError, lambda a: a.check_out(ALICE, late))


def test_a_check_out_within_the_grace_counts_only_the_scheduled_hours() -> None:
    activity = checked_in(when=STARTS - GRACE)
    with acting(STAFF, now=AFTER):
        assert activity.check_out(ALICE, ENDS + GRACE) == Decimal("2.00")


def test_a_check_out_later_than_the_servers_clock_is_refused() -> None:
    activity = checked_in()
    assert_refused(
        activity, AttendanceInFutureError, lambda a: a.check_out(ALICE, ENDS), now=at(60)
    )


def test_a_check_out_time_without_a_time_zone_is_refused() -> None:
    naive = at(60).replace(tzinfo=None)
    assert_refused(checked_in(), ActivityValueError, lambda a: a.check_out(ALICE, naive))


def test_nobody_checks_out_of_a_closed_activity() -> None:
    activity = attended((ALICE, STARTS, None))
    with acting(STAFF, now=AFTER):
        activity.close()
    assert_refused(activity, InvalidTransitionError, lambda a: a.check_out(ALICE, at(60)))


# --- hours ---


@pytest.mark.parametrize(
    ("checked_in_at", "checked_out_at", "hours"),
    [
        (STARTS, ENDS, "2.00"),
        (STARTS - GRACE, ENDS + GRACE, "2.00"),
        (at(10), at(30), "0.33"),
        (at(0), at(0.3), "0.01"),  # 18 s = 0.005 h, rounded half up
        (at(0), at(0.29), "0.00"),
        (STARTS - GRACE, STARTS - timedelta(minutes=1), "0.00"),
        (ENDS + timedelta(minutes=1), ENDS + GRACE, "0.00"),
        (at(60), ENDS + GRACE, "1.00"),
    ],
)
def test_hours_are_the_overlap_with_the_window_to_the_hundredth(
    checked_in_at: datetime, checked_out_at: datetime, hours: str
) -> None:
    earned = overlap_hours(checked_in_at, checked_out_at, STARTS, ENDS)
    assert earned == Decimal(hours)
    assert earned.as_tuple().exponent == -2


# --- closing ---


def test_closing_records_who_completed_and_zeroes_those_who_never_checked_out() -> None:
    carol, dave = uuid4(), uuid4()
    activity = attended(
        (ALICE, STARTS, ENDS),
        (BOB, at(10), None),
        (carol, STARTS - GRACE, STARTS - timedelta(minutes=5)),
        (dave, at(30), at(60)),
    )
    with acting(STAFF, now=AFTER):
        activity.close()
    (closed_event,) = activity.collect_events()
    assert isinstance(closed_event, Activity.Closed)
    assert closed_event.completed == [ALICE, dave]
    assert closed_event.not_completed == [BOB, carol]
    assert activity.status == "closed"
    assert activity.closed_at == AFTER
    assert activity.completed_members() == [ALICE, dave]
    hours = {k: (r["hours"], r["completed"]) for k, r in activity.attendance.items()}
    assert hours == {
        str(ALICE): (Decimal("2.00"), True),
        str(BOB): (Decimal("0.00"), False),
        str(carol): (Decimal("0.00"), False),
        str(dave): (Decimal("0.50"), True),
    }
    assert activity.attendee(BOB)["checked_out_at"] is None


def test_an_activity_nobody_attended_can_be_closed_once_started() -> None:
    activity = scheduled()
    with acting(STAFF, now=STARTS):
        activity.close()
    assert [type(e) for e in activity.collect_events()] == [Activity.Closed]
    assert activity.completed_members() == []


def test_an_activity_that_has_not_started_cannot_be_closed() -> None:
    error = assert_refused(
        checked_in(when=STARTS - GRACE),
        ActivityNotStartedError,
        lambda a: a.close(),
        now=STARTS - timedelta(seconds=1),
    )
    assert error.rule == "activity.close_after_start"


@pytest.mark.parametrize("state", [closed, cancelled])
def test_only_a_scheduled_activity_can_be_closed(state: Callable[[], Activity]) -> None:
    assert_refused(state(), InvalidTransitionError, lambda a: a.close())


# --- cancelling ---


def test_an_activity_nobody_checked_in_to_is_cancelled_with_a_reason() -> None:
    activity = scheduled()
    with acting(STAFF, now=SCHEDULED_AT):
        activity.cancel("  暴雨预警 ")
    (cancelled_event,) = activity.collect_events()
    assert isinstance(cancelled_event, Activity.Cancelled)
    assert cancelled_event.reason == "暴雨预警"
    assert activity.status == "cancelled"
    assert (activity.cancellation_reason, activity.cancelled_at) == ("暴雨预警", SCHEDULED_AT)


def test_a_cancellation_needs_a_reason() -> None:
    assert_refused(scheduled(), ActivityValueError, lambda a: a.cancel("  "))


def test_an_activity_someone_checked_in_to_cannot_be_cancelled() -> None:
    error = assert_refused(checked_in(), ActivityHasAttendanceError, lambda a: a.cancel("改期"))
    assert error.rule == "activity.cancel_without_attendance"


@pytest.mark.parametrize("state", [closed, cancelled])
def test_only_a_scheduled_activity_can_be_cancelled(state: Callable[[], Activity]) -> None:
    assert_refused(state(), InvalidTransitionError, lambda a: a.cancel("改期"))


# --- state ---


def test_an_activitys_state_round_trips_through_a_snapshot() -> None:
    activity = attended((ALICE, STARTS, at(90)), (BOB, at(5), None))
    with acting(STAFF, now=AFTER):
        activity.close()
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    mapper = Mapper(transcoder=transcoder)
    stored = mapper.to_stored_event(Snapshot.take(activity))
    restored = mapper.to_domain_event(stored).mutate(None)
    assert isinstance(restored, Activity)
    assert vars(restored) == {**vars(activity), "_pending_events": []}
