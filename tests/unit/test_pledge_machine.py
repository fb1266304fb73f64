"""A pledge driven by random command sequences, checked against a simple model.

Each rule works out from the model whether the command is allowed, then checks that
the pledge agrees: an allowed command records events, a refused one raises a
DomainError and leaves nothing pending.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from domain.calendar import end_of_local_day, local_date
from domain.context import Actor, acting
from domain.errors import DomainError
from domain.pledge import Pledge, PledgeStatus

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MEMBER = uuid4()
RESIDENT = Actor(str(MEMBER), "resident")
WORKER = Actor("gw-1", "grid_worker")
STAFF = Actor("staff-1", "community_staff")
OPEN = (PledgeStatus.PLEDGED, PledgeStatus.ACCEPTED)

session_hours = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("16"), places=2)


class PledgeMachine(RuleBasedStateMachine):
    pledge: Pledge

    @initialize(
        target_hours=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("12"), places=2),
        due_in_days=st.integers(min_value=0, max_value=6),
        accept=st.booleans(),
        sessions=st.lists(session_hours, max_size=4),
    )
    def make(
        self, target_hours: Decimal, due_in_days: int, accept: bool, sessions: list[Decimal]
    ) -> None:
        self.now = START
        self.pledged_on = local_date(START)
        self.status = PledgeStatus.PLEDGED
        self.logged: list[tuple[Decimal, date]] = []
        self.verified: set[int] = set()
        self.reviewed = False
        with acting(RESIDENT, now=self.now):
            self.pledge = Pledge.make(
                member_id=MEMBER,
                community="HG-WH-BH",
                kind="commitment",
                title="楼道清洁",
                target_hours=target_hours,
                due_on=self.pledged_on + timedelta(days=due_in_days),
            )
        self.pledge.collect_events()
        if accept:
            self.accept()
        for hours in sessions:
            self.try_to_log(hours, self.today)

    @property
    def today(self) -> date:
        return local_date(self.now)

    def attempt(self, actor: Actor, allowed: bool, action: Callable[[Pledge], object]) -> None:
        version = self.pledge.version
        with acting(actor, now=self.now):
            if allowed:
                action(self.pledge)
                assert self.pledge.collect_events()
                return
            with pytest.raises(DomainError):
                action(self.pledge)
        assert self.pledge.collect_events() == []
        assert self.pledge.version == version

    def logged_on(self, on: date) -> Decimal:
        return sum((h for h, d in self.logged if d == on), Decimal(0))

    def verified_hours(self) -> Decimal:
        return sum((self.logged[n - 1][0] for n in self.verified), Decimal(0))

    @rule(hours=st.integers(min_value=1, max_value=36))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule()
    def accept(self) -> None:
        allowed = self.status == PledgeStatus.PLEDGED
        self.attempt(STAFF, allowed, lambda p: p.accept())
        if allowed:
            self.status = PledgeStatus.ACCEPTED

    @rule(hours=session_hours, days_after=st.integers(min_value=0, max_value=3))
    def log_session(self, hours: Decimal, days_after: int) -> None:
        self.try_to_log(hours, min(self.today, self.pledged_on + timedelta(days=days_after)))

    @rule(hours=st.sampled_from([Decimal("1"), Decimal("0"), Decimal("-1")]))
    def log_a_session_for_tomorrow_or_of_no_hours(self, hours: Decimal) -> None:
        on = self.today + timedelta(days=1) if hours > 0 else self.today
        self.try_to_log(hours, on)

    def try_to_log(self, hours: Decimal, on: date) -> None:
        allowed = (
            self.status == PledgeStatus.ACCEPTED
            and hours > 0
            and self.pledged_on <= on <= min(self.today, self.pledge.due_on)
            and self.logged_on(on) + hours <= 24
        )
        self.attempt(RESIDENT, allowed, lambda p: p.log_session(hours, on))
        if allowed:
            self.logged.append((hours, on))

    @precondition(lambda self: self.logged)
    @rule(data=st.data(), by_member=st.booleans())
    def verify_session(self, data: st.DataObject, by_member: bool) -> None:
        unverified = [n for n in range(1, len(self.logged) + 1) if n not in self.verified]
        others = [*self.verified, 0, len(self.logged) + 1]
        session_no = data.draw(st.sampled_from([*unverified, *others]))
        allowed = (
            self.status == PledgeStatus.ACCEPTED
            and 1 <= session_no <= len(self.logged)
            and session_no not in self.verified
            and not by_member
        )
        actor = RESIDENT if by_member else WORKER
        self.attempt(actor, allowed, lambda p: p.verify_session(session_no))
        if allowed:
            self.verified.add(session_no)
            if self.verified_hours() >= self.pledge.target_hours:
                self.status = PledgeStatus.FULFILLED

    @rule(hours_later=st.integers(min_value=0, max_value=48))
    def lapse(self, hours_later: int) -> None:
        self.now += timedelta(hours=hours_later)
        due = self.now >= end_of_local_day(self.pledge.due_on)
        allowed = self.status in OPEN and due
        self.attempt(STAFF, allowed, lambda p: p.lapse())
        if allowed:
            self.status = PledgeStatus.LAPSED

    @precondition(lambda self: self.status != PledgeStatus.WITHDRAWN)
    @rule(reason=st.sampled_from(["", " ", "\t", "\n", "工作调动"]))
    def withdraw(self, reason: str) -> None:
        allowed = self.status in OPEN and bool(reason.strip())
        self.attempt(RESIDENT, allowed, lambda p: p.withdraw(reason))
        if allowed:
            self.status = PledgeStatus.WITHDRAWN

    @rule(rating=st.integers(min_value=0, max_value=5), by_member=st.booleans())
    def review(self, rating: int, by_member: bool) -> None:
        allowed = (
            self.status in (PledgeStatus.FULFILLED, PledgeStatus.LAPSED)
            and not self.reviewed
            and not by_member
            and 1 <= rating <= 5
        )
        actor = RESIDENT if by_member else STAFF
        self.attempt(actor, allowed, lambda p: p.review_fulfilment(rating))
        if allowed:
            self.reviewed = True

    @invariant()
    def the_status_is_valid_and_the_models(self) -> None:
        assert self.pledge.status in set(PledgeStatus)
        assert self.pledge.status == self.status
        assert (self.pledge.review is not None) == self.reviewed

    @invariant()
    def verified_hours_are_the_sum_of_verified_sessions(self) -> None:
        verified = [s["hours"] for s in self.pledge.sessions if s["verified"]]
        assert self.pledge.verified_hours == sum(verified, Decimal(0))
        assert self.pledge.verified_hours == self.verified_hours()

    @invariant()
    def fulfilled_exactly_when_verified_hours_reach_the_target(self) -> None:
        reached = self.pledge.verified_hours >= self.pledge.target_hours
        assert reached == (self.pledge.status == PledgeStatus.FULFILLED)

    @invariant()
    def no_date_has_more_than_24_logged_hours(self) -> None:
        per_day: dict[date, Decimal] = {}
        for session in self.pledge.sessions:
            per_day[session["on"]] = per_day.get(session["on"], Decimal(0)) + session["hours"]
        assert all(total <= 24 for total in per_day.values())


PledgeMachine.TestCase.settings = settings(max_examples=120, stateful_step_count=25, deadline=None)
test_pledge_machine = PledgeMachine.TestCase
