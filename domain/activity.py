"""Activity: a service activity a community or grid holds (活动), with attendance (签到/签退).

    scheduled -> closed | cancelled

Members check in and out while the activity is scheduled, at times (`at`, default the
command's field time, else its server time) within the activity's window widened by
`GRACE` on both sides and not later than the server's clock (plus `CLOCK_SKEW` for
devices whose clocks run fast). An attendee's hours are the overlap of their
[check-in, check-out] with the scheduled [starts_at, ends_at], in hours quantized to
0.01; they are fixed when the attendee checks out.

An attendee has completed the activity when they checked out with more than zero
hours (at least 0.01) inside its window. Closing sets the hours of those who never
checked out to 0.00 and records who completed and who did not; only those who
completed earn points. An activity closes once it has started; one that nobody has
checked in to may instead be cancelled, with a reason.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from domain.base import GovernedAggregate
from domain.context import current
from domain.errors import (
    ActivityHasAttendanceError,
    ActivityNotStartedError,
    ActivityTimesError,
    ActivityValueError,
    AttendanceInFutureError,
    AttendanceWindowError,
    CheckOutBeforeCheckInError,
    CheckOutWithoutCheckInError,
    DoubleCheckInError,
    DoubleCheckOutError,
    InvalidTransitionError,
)

__all__ = ["Activity", "ActivityStatus", "overlap_hours"]

HUNDREDTH = Decimal("0.01")
MICROSECONDS_PER_HOUR = Decimal(3_600_000_000)


class ActivityStatus(StrEnum):
    SCHEDULED = "scheduled"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Activity(GovernedAggregate):
    if TYPE_CHECKING:  # the event classes @event makes below (fields: its arguments)
        Scheduled: ClassVar[type[Any]]
        CheckedIn: ClassVar[type[Any]]
        CheckedOut: ClassVar[type[Any]]
        Closed: ClassVar[type[Any]]
        Cancelled: ClassVar[type[Any]]

    GRACE = timedelta(minutes=30)
    LONGEST = timedelta(days=7)
    CLOCK_SKEW = timedelta(minutes=5)

    @classmethod
    def schedule(
        cls,
        *,
        title: str,
        jurisdiction: str,
        community: str,
        starts_at: datetime,
        ends_at: datetime,
        points_rule: str | None = None,
    ) -> Activity:
        """Schedule an activity in a community or grid; it may last at most `LONGEST`."""
        if not title.strip():
            raise ActivityValueError("an activity needs a title")
        if points_rule is not None and not points_rule.strip():
            raise ActivityValueError("points_rule must name a rule or be left out")
        starts = _utc(starts_at, "starts_at")
        ends = _utc(ends_at, "ends_at")
        if ends <= starts:
            raise ActivityTimesError("an activity must end after it starts")
        if ends - starts > cls.LONGEST:
            raise ActivityTimesError(f"an activity may last at most {cls.LONGEST.days} days")
        return cls(
            title=title.strip(),
            jurisdiction=jurisdiction,
            community=community,
            starts_at=starts,
            ends_at=ends,
            points_rule=points_rule.strip() if points_rule is not None else None,
        )

    @event("Scheduled")
    def __init__(
        self,
        title: str,
        jurisdiction: str,
        community: str,
        starts_at: datetime,
        ends_at: datetime,
        points_rule: str | None,
    ) -> None:
        self.title = title
        self.jurisdiction = jurisdiction
        self.community = community
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.points_rule = points_rule
        self.status = ActivityStatus.SCHEDULED.value
        self.attendance: dict[str, dict[str, Any]] = {}
        self.closed_at: datetime | None = None
        self.cancelled_at: datetime | None = None
        self.cancellation_reason: str | None = None

    def check_in(self, member_id: UUID, at: datetime | None = None) -> None:
        """Check a member in (签到), once."""
        self._require_scheduled("check in to")
        if str(member_id) in self.attendance:
            raise DoubleCheckInError(f"member {member_id} has already checked in")
        self._checked_in(member_id=member_id, at=self._attendance_time(at))

    def check_out(self, member_id: UUID, at: datetime | None = None) -> Decimal:
        """Check a checked-in member out (签退), once; answer the hours they earned."""
        self._require_scheduled("check out of")
        record = self.attendee(member_id)
        if record is None:
            raise CheckOutWithoutCheckInError(f"member {member_id} has not checked in")
        if record["checked_out_at"] is not None:
            raise DoubleCheckOutError(f"member {member_id} has already checked out")
        when = self._attendance_time(at)
        if when < record["checked_in_at"]:
            raise CheckOutBeforeCheckInError(
                f"check-out at {when.isoformat()} is before check-in at "
                f"{record['checked_in_at'].isoformat()}"
            )
        hours = overlap_hours(record["checked_in_at"], when, self.starts_at, self.ends_at)
        self._checked_out(member_id=member_id, at=when, hours=hours)
        return hours

    def close(self) -> None:
        """Close a started activity: attendees who never checked out get 0.00 hours."""
        self._require_scheduled("close")
        if current().now < self.starts_at:
            raise ActivityNotStartedError(
                f"the activity starts at {self.starts_at.isoformat()}; cancel it instead"
            )
        completed = self.completed_members()
        not_completed = [r["member_id"] for r in self.attendance.values() if not r["completed"]]
        self._closed(completed=completed, not_completed=not_completed)

    def cancel(self, reason: str) -> None:
        """Cancel an activity nobody has checked in to, saying why."""
        self._require_scheduled("cancel")
        if not reason.strip():
            raise ActivityValueError("a cancellation needs a reason")
        if self.attendance:
            raise ActivityHasAttendanceError(
                f"{len(self.attendance)} members have checked in; close the activity instead"
            )
        self._cancelled(reason=reason.strip())

    def attendee(self, member_id: UUID | str) -> dict[str, Any] | None:
        return self.attendance.get(str(member_id))

    def completed_members(self) -> list[UUID]:
        """Members who checked out with some time inside the window, in check-in order."""
        return [r["member_id"] for r in self.attendance.values() if r["completed"]]

    def _require_scheduled(self, action: str) -> None:
        if self.status != ActivityStatus.SCHEDULED:
            raise InvalidTransitionError("activity", action, self.status)

    def _attendance_time(self, at: datetime | None) -> datetime:
        ctx = current()
        when = _utc(at or ctx.occurred_at or ctx.now, "at")
        if when > ctx.now + self.CLOCK_SKEW:
            raise AttendanceInFutureError(
                f"{when.isoformat()} is later than the server's time {ctx.now.isoformat()}"
            )
        if not self.starts_at - self.GRACE <= when <= self.ends_at + self.GRACE:
            raise AttendanceWindowError(
                f"{when.isoformat()} is outside the activity's window "
                f"{self.starts_at.isoformat()} to {self.ends_at.isoformat()} "
                f"with {self.GRACE} grace"
            )
        return when

    @event("CheckedIn")
    def _checked_in(self, member_id: UUID, at: datetime) -> None:
        self.attendance[str(member_id)] = {
            "member_id": member_id,
            "checked_in_at": at,
            "checked_out_at": None,
            "hours": None,
            "completed": False,
        }

    @event("CheckedOut")
    def _checked_out(self, member_id: UUID, at: datetime, hours: Decimal) -> None:
        self.attendance[str(member_id)].update(checked_out_at=at, hours=hours, completed=hours > 0)

    @event("Closed")
    def _closed(
        self,
        completed: list[UUID],
        not_completed: list[UUID],
        timestamp: datetime | None = None,
    ) -> None:
        for member_id in not_completed:
            record = self.attendance[str(member_id)]
            if record["hours"] is None:
                record["hours"] = Decimal("0.00")
        self.status = ActivityStatus.CLOSED.value
        self.closed_at = timestamp

    @event("Cancelled")
    def _cancelled(self, reason: str, timestamp: datetime | None = None) -> None:
        self.status = ActivityStatus.CANCELLED.value
        self.cancellation_reason = reason
        self.cancelled_at = timestamp


def overlap_hours(
    checked_in_at: datetime, checked_out_at: datetime, starts_at: datetime, ends_at: datetime
) -> Decimal:
    """Hours of [checked_in_at, checked_out_at] inside [starts_at, ends_at], to 0.01."""
    overlap = min(checked_out_at, ends_at) - max(checked_in_at, starts_at)
    microseconds = max(overlap, timedelta(0)) // timedelta(microseconds=1)
    return (Decimal(microseconds) / MICROSECONDS_PER_HOUR).quantize(HUNDREDTH, ROUND_HALF_UP)


def _utc(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ActivityValueError(f"{field} must be a time with a time zone")
    return value.astimezone(UTC)
