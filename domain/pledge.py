"""Pledge: a member's volunteer commitment (承诺/践诺, "我是党员,我承诺…").

A member pledges a service item, a pioneer post or a commitment to a community, with
target hours and a due date. The community accepts it; service sessions are logged
and verified by someone other than the member; once verified hours reach the target
the pledge is fulfilled by the same verification. An open pledge lapses when its due
date has passed (recorded by the deadline watcher) or is withdrawn; a fulfilled or
lapsed pledge is reviewed once (践诺评议).

    pledged -> accepted -> fulfilled
    pledged | accepted -> lapsed | withdrawn

Dates are local (Asia/Shanghai) calendar dates; "today" is the local date of the
command's recorded time. Event methods that name `actor_id` or `timestamp` receive the
actor and recorded time the event was recorded with.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import event

from domain.base import GovernedAggregate
from domain.calendar import end_of_local_day, local_date
from domain.context import current
from domain.errors import (
    InvalidTransitionError,
    InvalidValueError,
    PledgeAlreadyReviewedError,
    PledgeDailyHoursExceededError,
    PledgeNotYetDueError,
    PledgeSelfReviewError,
    PledgeSelfVerificationError,
    PledgeSessionAlreadyVerifiedError,
    PledgeSessionNotFoundError,
)
from domain.pledge_rules import (
    HOURS_PER_DAY,
    OPEN,
    REVIEWABLE,
    PledgeKind,
    PledgeStatus,
    check_session_date,
    due_date_value,
    hours_value,
    is_count,
    pledge_kind,
    rating_value,
    target_hours_value,
)

__all__ = ["Pledge", "PledgeKind", "PledgeStatus"]


class Pledge(GovernedAggregate):
    if TYPE_CHECKING:  # the event classes @event makes below (fields: its arguments)
        Pledged: ClassVar[type[Any]]
        Accepted: ClassVar[type[Any]]
        SessionLogged: ClassVar[type[Any]]
        SessionVerified: ClassVar[type[Any]]
        Fulfilled: ClassVar[type[Any]]
        Lapsed: ClassVar[type[Any]]
        Withdrawn: ClassVar[type[Any]]
        Reviewed: ClassVar[type[Any]]

    @classmethod
    def make(
        cls,
        *,
        member_id: UUID,
        community: str,
        kind: str,
        title: str,
        target_hours: Decimal | int | str,
        due_on: date,
    ) -> Pledge:
        """Record a member's pledge to a community; the due date may not have passed."""
        if not title.strip():
            raise InvalidValueError("a pledge needs a title", rule="pledge.title")
        return cls(
            member_id=member_id,
            community=community,
            kind=pledge_kind(kind).value,
            title=title.strip(),
            target_hours=target_hours_value(target_hours),
            due_on=due_date_value(due_on, local_date(current().now)),
        )

    @event("Pledged")
    def __init__(
        self,
        member_id: UUID,
        community: str,
        kind: str,
        title: str,
        target_hours: Decimal,
        due_on: date,
    ) -> None:
        self.member_id = member_id
        self.community = community
        self.kind = kind
        self.title = title
        self.target_hours = target_hours
        self.due_on = due_on
        self.status = PledgeStatus.PLEDGED.value
        self.verified_hours = Decimal("0.00")
        self.sessions: list[dict[str, Any]] = []
        self.review: dict[str, Any] | None = None
        self.accepted_at: datetime | None = None
        self.fulfilled_at: datetime | None = None
        self.withdrawal_reason: str | None = None

    @property
    def pledged_at(self) -> datetime:
        return self.created_on

    def accept(self) -> None:
        """The community accepts the pledge."""
        self._require_status("accept", PledgeStatus.PLEDGED)
        self._accepted()

    def log_session(self, hours: Decimal | int | str, on: date, note: str | None = None) -> int:
        """Log a service session on an accepted pledge; answer its number."""
        self._require_status("log a session on", PledgeStatus.ACCEPTED)
        amount = hours_value(hours, field="hours")
        check_session_date(
            on,
            today=local_date(current().now),
            pledged_on=local_date(self.pledged_at),
            due_on=self.due_on,
        )
        logged = self.hours_logged_on(on)
        if logged + amount > HOURS_PER_DAY:
            raise PledgeDailyHoursExceededError(
                f"{on} already has {logged} hours logged; {amount} more would pass "
                f"{HOURS_PER_DAY} hours in one day"
            )
        session_no = len(self.sessions) + 1
        self._session_logged(session_no=session_no, hours=amount, on=on, note=note or None)
        return session_no

    def verify_session(self, session_no: int) -> None:
        """Verify a logged session; fulfil the pledge once verified hours reach its target."""
        self._require_status("verify a session of", PledgeStatus.ACCEPTED)
        session = self.session(session_no)
        if session["verified"]:
            raise PledgeSessionAlreadyVerifiedError(
                f"session {session_no} was already verified by {session['verified_by']}"
            )
        if current().actor.is_member(self.member_id):
            raise PledgeSelfVerificationError("a member cannot verify their own sessions")
        self._session_verified(session_no=session_no)
        if self.verified_hours >= self.target_hours:
            self._fulfilled()

    def lapse(self) -> None:
        """Record that the due date passed with the pledge still open (the deadline watcher)."""
        self._require_status("lapse", *OPEN)
        now = current().now
        if now < end_of_local_day(self.due_on):
            raise PledgeNotYetDueError(f"the pledge is due on {self.due_on}, which has not passed")
        self._lapsed()

    def withdraw(self, reason: str) -> None:
        """Withdraw an open pledge, saying why."""
        self._require_status("withdraw", *OPEN)
        if not reason.strip():
            raise InvalidValueError("a withdrawal needs a reason", rule="pledge.withdraw_reason")
        self._withdrawn(reason=reason.strip())

    def review_fulfilment(self, rating: int, comment: str | None = None) -> None:
        """Review a fulfilled or lapsed pledge (践诺评议) once; not by its own member."""
        self._require_status("review", *REVIEWABLE)
        if self.review is not None:
            raise PledgeAlreadyReviewedError("the pledge has already been reviewed")
        if current().actor.is_member(self.member_id):
            raise PledgeSelfReviewError("a member cannot review their own pledge")
        self._reviewed(rating=rating_value(rating), comment=comment or None)

    def session(self, session_no: int) -> dict[str, Any]:
        """The session numbered `session_no`, or PledgeSessionNotFoundError."""
        if not is_count(session_no) or not 1 <= session_no <= len(self.sessions):
            raise PledgeSessionNotFoundError(self.id, session_no)
        return self.sessions[session_no - 1]

    def hours_logged_on(self, on: date) -> Decimal:
        return sum((s["hours"] for s in self.sessions if s["on"] == on), Decimal("0.00"))

    def _require_status(self, action: str, *allowed: PledgeStatus) -> None:
        if self.status not in allowed:
            raise InvalidTransitionError("pledge", action, self.status)

    @event("Accepted")
    def _accepted(self, timestamp: datetime | None = None) -> None:
        self.status = PledgeStatus.ACCEPTED.value
        self.accepted_at = timestamp

    @event("SessionLogged")
    def _session_logged(
        self,
        session_no: int,
        hours: Decimal,
        on: date,
        note: str | None,
        timestamp: datetime | None = None,
    ) -> None:
        self.sessions.append(
            {
                "session_no": session_no,
                "hours": hours,
                "on": on,
                "note": note,
                "logged_at": timestamp,
                "verified": False,
                "verified_by": None,
                "verified_at": None,
            }
        )

    @event("SessionVerified")
    def _session_verified(
        self, session_no: int, actor_id: str = "", timestamp: datetime | None = None
    ) -> None:
        session = self.sessions[session_no - 1]
        session.update(verified=True, verified_by=actor_id, verified_at=timestamp)
        self.verified_hours += session["hours"]

    @event("Fulfilled")
    def _fulfilled(self, timestamp: datetime | None = None) -> None:
        self.status = PledgeStatus.FULFILLED.value
        self.fulfilled_at = timestamp

    @event("Lapsed")
    def _lapsed(self) -> None:
        self.status = PledgeStatus.LAPSED.value

    @event("Withdrawn")
    def _withdrawn(self, reason: str) -> None:
        self.status = PledgeStatus.WITHDRAWN.value
        self.withdrawal_reason = reason

    @event("Reviewed")
    def _reviewed(
        self,
        rating: int,
        comment: str | None,
        actor_id: str = "",
        timestamp: datetime | None = None,
    ) -> None:
        self.review = {
            "rating": rating,
            "comment": comment,
            "reviewed_by": actor_id,
            "reviewed_at": timestamp,
        }
