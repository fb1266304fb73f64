"""Random walks through a ticket's life, checked against a model of its status table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

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

from domain.context import Actor, acting
from domain.errors import (
    AlreadyRatedError,
    DispatchLevelError,
    EscalationLevelError,
    InvalidTransitionError,
    RatedByReporterError,
    ResolutionNotOverdueError,
    ResponseNotOverdueError,
)
from domain.ticket import Ticket

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
WORKER = "worker-1"
LEVELS = ["grid", "community", "street", "department"]
STATUSES = {"reported", "accepted", "rejected", "dispatched", "responded", "resolved", "closed"}
RESOLUTION_HOURS = {"normal": 72, "urgent": 24}
MINUTES = st.one_of(st.just(0), st.integers(0, 90), st.integers(0, 80 * 60))

NEXT: dict[str, dict[str, str]] = {
    "accept": {"reported": "accepted"},
    "reject": {"reported": "rejected"},
    "dispatch": {"accepted": "dispatched"},
    "respond": {"dispatched": "responded"},
    "escalate": {"dispatched": "accepted", "responded": "accepted"},
    "supervise": {s: s for s in ("accepted", "dispatched", "responded")},
    "resolve": {"responded": "resolved"},
    "rate": {"resolved": "resolved"},
    "visit": {"resolved": "resolved"},
    "close": {"resolved": "closed"},
    "reopen": {"resolved": "dispatched", "closed": "dispatched"},
}


ACTS: dict[str, Callable[[Ticket], None]] = {
    "accept": lambda t: t.accept(),
    "reject": lambda t: t.reject("invalid"),
    "dispatch": lambda t: t.dispatch("department", "handler"),
    "respond": lambda t: t.respond("on it"),
    "escalate": lambda t: t.escalate("department", "up"),
    "supervise": lambda t: t.supervise("hurry"),
    "resolve": lambda t: t.resolve("done"),
    "rate": lambda t: t.rate("satisfied"),
    "visit": lambda t: t.visit("called"),
    "close": lambda t: t.close(),
    "reopen": lambda t: t.reopen("again"),
}


def reported(priority: str, reporter: UUID | None = None) -> Ticket:
    """A road ticket reported in grid G (call it inside `acting`)."""
    return Ticket.report(
        category="road",
        description="pothole",
        grid="G",
        community="C",
        source="resident",
        priority=priority,
        reporter_member_id=reporter,
    )


def allowed(action: str) -> Callable[[Any], Any]:
    return precondition(lambda machine: machine.status in NEXT[action])


class TicketMachine(RuleBasedStateMachine):
    ticket: Ticket
    reporter: UUID | None

    @initialize(priority=st.sampled_from(["normal", "urgent"]), with_reporter=st.booleans())
    def report(self, priority: str, with_reporter: bool) -> None:
        self.now = T0
        self.priority = priority
        self.reporter = uuid4() if with_reporter else None
        with acting(Actor(WORKER, "grid_worker"), now=self.now):
            self.ticket = reported(priority, self.reporter)
        self.history: list[Any] = []
        self._collect([Ticket.Reported])
        self.status = "reported"
        self.level: str | None = None
        self.responded = False
        self.resolved = False
        self.rated = False
        self.response_overdue = False
        self.resolution_overdue = False
        self.respond_due = T0 + timedelta(hours=1)
        self.resolve_due = T0 + timedelta(hours=RESOLUTION_HOURS[priority])

    def _collect(self, expected: list[type]) -> None:
        events = self.ticket.collect_events()
        assert [type(e) for e in events] == expected
        self.history.extend(events)

    def _pass(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    def _attempt(
        self,
        action: str,
        minutes: int,
        act: Callable[[], None],
        events: list[type],
        refusal: type[Exception] | None = None,
        actor: str = WORKER,
    ) -> bool:
        self._pass(minutes)
        with acting(Actor(actor, "grid_worker"), now=self.now):
            if refusal is not None:
                with pytest.raises(refusal):
                    act()
                self._collect([])
                return False
            act()
        self._collect(events)
        self.status = NEXT[action][self.status]
        return True

    def _response_is_overdue(self) -> bool:
        return (
            self.status not in ("rejected", "closed")
            and not self.responded
            and not self.response_overdue
            and self.now > self.respond_due
        )

    def _resolution_is_overdue(self) -> bool:
        return (
            self.status not in ("rejected", "closed")
            and not self.resolved
            and not self.resolution_overdue
            and self.now > self.resolve_due
        )

    @allowed("accept")
    @rule(minutes=MINUTES)
    def accept(self, minutes: int) -> None:
        self._attempt("accept", minutes, self.ticket.accept, [Ticket.Accepted])

    @allowed("reject")
    @rule(minutes=MINUTES, duplicate=st.booleans())
    def reject(self, minutes: int, duplicate: bool) -> None:
        reason, original = ("duplicate", uuid4()) if duplicate else ("invalid", None)
        self._attempt(
            "reject",
            minutes,
            lambda: self.ticket.reject(reason, duplicate_of=original),
            [Ticket.Rejected],
        )

    @allowed("dispatch")
    @rule(minutes=MINUTES, level=st.sampled_from(LEVELS))
    def dispatch(self, minutes: int, level: str) -> None:
        below = self.level is not None and LEVELS.index(level) < LEVELS.index(self.level)
        if self._attempt(
            "dispatch",
            minutes,
            lambda: self.ticket.dispatch(level, "handler"),
            [Ticket.Dispatched],
            DispatchLevelError if below else None,
        ):
            self.level = level

    @allowed("respond")
    @rule(minutes=MINUTES)
    def respond(self, minutes: int) -> None:
        self._pass(minutes)
        late = self._response_is_overdue()
        events = [Ticket.ResponseOverdue, Ticket.Responded] if late else [Ticket.Responded]
        self._attempt("respond", 0, lambda: self.ticket.respond("on it"), events)
        self.responded = True
        self.response_overdue = self.response_overdue or late

    @allowed("escalate")
    @rule(minutes=MINUTES, to_level=st.sampled_from(LEVELS))
    def escalate(self, minutes: int, to_level: str) -> None:
        not_above = LEVELS.index(to_level) <= LEVELS.index(str(self.level))
        refusal = EscalationLevelError if not_above else None
        if self._attempt(
            "escalate",
            minutes,
            lambda: self.ticket.escalate(to_level, "up"),
            [Ticket.Escalated],
            refusal,
        ):
            self.level = to_level

    @allowed("supervise")
    @rule(minutes=MINUTES)
    def supervise(self, minutes: int) -> None:
        self._attempt(
            "supervise", minutes, lambda: self.ticket.supervise("hurry"), [Ticket.Supervised]
        )

    @allowed("resolve")
    @rule(minutes=MINUTES)
    def resolve(self, minutes: int) -> None:
        self._pass(minutes)
        late = self._resolution_is_overdue()
        events = [Ticket.ResolutionOverdue, Ticket.Resolved] if late else [Ticket.Resolved]
        self._attempt("resolve", 0, lambda: self.ticket.resolve("done"), events)
        self.resolved = True
        self.resolution_overdue = self.resolution_overdue or late

    @allowed("rate")
    @rule(minutes=MINUTES, by_reporter=st.booleans())
    def rate(self, minutes: int, by_reporter: bool) -> None:
        actor = str(self.reporter) if by_reporter and self.reporter else WORKER
        refusal: type[Exception] | None = None
        if self.reporter is not None and actor != str(self.reporter):
            refusal = RatedByReporterError
        elif self.rated:
            refusal = AlreadyRatedError
        if self._attempt(
            "rate", minutes, lambda: self.ticket.rate("satisfied"), [Ticket.Rated], refusal, actor
        ):
            self.rated = True

    @allowed("visit")
    @rule(minutes=MINUTES)
    def visit(self, minutes: int) -> None:
        self._attempt("visit", minutes, lambda: self.ticket.visit("called"), [Ticket.Visited])

    @allowed("close")
    @rule(minutes=MINUTES)
    def close(self, minutes: int) -> None:
        self._attempt("close", minutes, self.ticket.close, [Ticket.Closed])

    @allowed("reopen")
    @rule(minutes=MINUTES)
    def reopen(self, minutes: int) -> None:
        self._attempt("reopen", minutes, lambda: self.ticket.reopen("again"), [Ticket.Reopened])
        self.resolved = self.rated = self.resolution_overdue = False
        self.resolve_due = self.now + timedelta(hours=RESOLUTION_HOURS[self.priority])

    @rule(action=st.sampled_from(sorted(NEXT)))
    def an_action_the_status_forbids(self, action: str) -> None:
        if self.status in NEXT[action]:
            return
        with (
            acting(Actor(WORKER, "grid_worker"), now=self.now),
            pytest.raises(InvalidTransitionError),
        ):
            ACTS[action](self.ticket)
        self._collect([])

    @rule(minutes=MINUTES, missed=st.sampled_from(["response", "resolution"]))
    def the_deadline_watcher_runs(self, minutes: int, missed: str) -> None:
        self._pass(minutes)
        if missed == "response":
            due, record = self._response_is_overdue(), self.ticket.record_response_overdue
            refusal, event = ResponseNotOverdueError, Ticket.ResponseOverdue
        else:
            due, record = self._resolution_is_overdue(), self.ticket.record_resolution_overdue
            refusal, event = ResolutionNotOverdueError, Ticket.ResolutionOverdue
        with acting(Actor("system", "system"), now=self.now):
            if due:
                record()
            else:
                with pytest.raises(refusal):
                    record()
        self._collect([event] if due else [])
        if missed == "response":
            self.response_overdue = self.response_overdue or due
        else:
            self.resolution_overdue = self.resolution_overdue or due

    @invariant()
    def the_status_is_valid_and_matches_the_model(self) -> None:
        assert self.ticket.status in STATUSES
        assert self.ticket.status == self.status
        assert self.ticket.level == self.level

    @invariant()
    def nothing_is_left_pending(self) -> None:
        assert self.ticket.collect_events() == []

    @invariant()
    def the_first_response_comes_no_later_than_the_resolution(self) -> None:
        ticket = self.ticket
        assert (ticket.responded_at is not None) == self.responded
        assert (ticket.resolved_at is not None) == self.resolved
        if ticket.resolved_at is not None:
            assert ticket.responded_at is not None
            assert ticket.responded_at <= ticket.resolved_at

    @invariant()
    def the_overdue_flags_agree_with_the_deadlines(self) -> None:
        ticket = self.ticket
        assert ticket.response_overdue == self.response_overdue
        assert ticket.resolution_overdue == self.resolution_overdue
        if ticket.responded_at is not None:
            assert ticket.response_overdue == (ticket.responded_at > ticket.respond_due_at)
        if ticket.resolved_at is not None:
            assert ticket.resolution_overdue == (ticket.resolved_at > ticket.resolve_due_at)
        assert ticket.resolve_due_at == self.resolve_due

    @invariant()
    def a_rating_belongs_to_the_current_resolution(self) -> None:
        assert (self.ticket.satisfaction is not None) == self.rated

    def teardown(self) -> None:
        if not hasattr(self, "ticket"):
            return
        rebuilt = None
        for recorded in self.history:
            rebuilt = recorded.mutate(rebuilt)
        assert vars(rebuilt) == vars(self.ticket)


TicketMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=50, deadline=None)
test_a_ticket_follows_its_status_table_whatever_happens = TicketMachine.TestCase
