"""The ticket aggregate: its status table, deadlines, overdue facts and rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any
from uuid import uuid4

import pytest

from domain.context import Actor, acting
from domain.errors import (
    AlreadyRatedError,
    DispatchLevelError,
    DuplicateOfError,
    EscalationLevelError,
    InvalidTransitionError,
    RatedByReporterError,
    ResolutionNotOverdueError,
    ResponseNotOverdueError,
    RuleViolationError,
    TicketValueError,
)
from domain.ticket import Ticket
from domain.ticket_policy import TicketPolicy

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
WORKER = Actor("worker-1", "grid_worker")


@contextmanager
def at(hours: float = 0, actor: Actor = WORKER) -> Iterator[None]:
    with acting(actor, now=T0 + timedelta(hours=hours)):
        yield


def new_ticket(**overrides: Any) -> Ticket:
    fields: dict[str, Any] = {
        "category": "road",
        "description": "pothole outside building 3",
        "grid": "HG-WH-BH-01",
        "community": "HG-WH-BH",
        "source": "grid_worker",
    }
    fields.update(overrides)
    with at(0):
        return Ticket.report(**fields)


Step = Callable[[Ticket], None]

PATHS: dict[str, list[Step]] = {
    "reported": [],
    "accepted": [lambda t: t.accept()],
    "rejected": [lambda t: t.reject("invalid")],
    "dispatched": [lambda t: t.accept(), lambda t: t.dispatch("grid", "worker-1")],
    "responded": [
        lambda t: t.accept(),
        lambda t: t.dispatch("grid", "worker-1"),
        lambda t: t.respond("on my way"),
    ],
    "resolved": [
        lambda t: t.accept(),
        lambda t: t.dispatch("grid", "worker-1"),
        lambda t: t.respond("on my way"),
        lambda t: t.resolve("filled the pothole"),
    ],
    "closed": [
        lambda t: t.accept(),
        lambda t: t.dispatch("grid", "worker-1"),
        lambda t: t.respond("on my way"),
        lambda t: t.resolve("filled the pothole"),
        lambda t: t.close(),
    ],
}
STATUSES = list(PATHS)


def ticket_in(status: str, hours: float = 0, **overrides: Any) -> Ticket:
    ticket = new_ticket(**overrides)
    with at(hours):
        for step in PATHS[status]:
            step(ticket)
    ticket.collect_events()
    return ticket


def event_types(ticket: Ticket) -> list[type]:
    return [type(e) for e in ticket.collect_events()]


ACTIONS: dict[str, tuple[Step, list[type], str | None]] = {
    "accept": (lambda t: t.accept(), [Ticket.Accepted], "accepted"),
    "reject": (lambda t: t.reject("invalid"), [Ticket.Rejected], "rejected"),
    "dispatch": (lambda t: t.dispatch("community", "staff-2"), [Ticket.Dispatched], "dispatched"),
    "respond": (lambda t: t.respond("looking"), [Ticket.Responded], "responded"),
    "escalate": (lambda t: t.escalate("street", "too big"), [Ticket.Escalated], "accepted"),
    "supervise": (lambda t: t.supervise("hurry up"), [Ticket.Supervised], None),
    "resolve": (lambda t: t.resolve("fixed"), [Ticket.Resolved], "resolved"),
    "rate": (lambda t: t.rate("satisfied"), [Ticket.Rated], "resolved"),
    "visit": (lambda t: t.visit("all good"), [Ticket.Visited], "resolved"),
    "close": (lambda t: t.close(), [Ticket.Closed], "closed"),
    "reopen": (lambda t: t.reopen("came back"), [Ticket.Reopened], "dispatched"),
}

ALLOWED_FROM = {
    "accept": {"reported"},
    "reject": {"reported"},
    "dispatch": {"accepted"},
    "respond": {"dispatched"},
    "escalate": {"dispatched", "responded"},
    "supervise": {"accepted", "dispatched", "responded"},
    "resolve": {"responded"},
    "rate": {"resolved"},
    "visit": {"resolved"},
    "close": {"resolved"},
    "reopen": {"resolved", "closed"},
}

ALLOWED = [
    pytest.param(s, a, id=f"{a}-from-{s}")
    for s, a in product(STATUSES, ACTIONS)
    if s in ALLOWED_FROM[a]
]
REFUSED = [
    pytest.param(s, a, id=f"{a}-from-{s}")
    for s, a in product(STATUSES, ACTIONS)
    if s not in ALLOWED_FROM[a]
]


@pytest.mark.parametrize(("status", "action"), ALLOWED)
def test_an_allowed_action_records_its_event_and_moves_the_status(status: str, action: str) -> None:
    ticket = ticket_in(status)
    act, events, after = ACTIONS[action]
    with at(0.5):
        act(ticket)
    assert event_types(ticket) == events
    assert ticket.status == (after or status)


@pytest.mark.parametrize(("status", "action"), REFUSED)
def test_a_refused_action_raises_and_records_nothing(status: str, action: str) -> None:
    ticket = ticket_in(status)
    act, _, _ = ACTIONS[action]
    with at(0.5), pytest.raises(InvalidTransitionError) as refused:
        act(ticket)
    assert refused.value.rule == "ticket.transition"
    assert ticket.collect_events() == []
    assert ticket.status == status


# --- reporting and deadlines ---


def test_a_report_records_what_where_and_both_deadlines() -> None:
    location = {"address": "文化路 3 号", "lat": 39.93, "lon": 119.6}
    ticket = new_ticket(priority="normal", location=location)
    assert event_types(ticket) == [Ticket.Reported]
    assert ticket.status == "reported"
    assert (ticket.grid, ticket.community) == ("HG-WH-BH-01", "HG-WH-BH")
    assert ticket.location == location
    assert ticket.reported_at == T0
    assert ticket.respond_due_at == T0 + timedelta(hours=1)
    assert ticket.resolve_due_at == T0 + timedelta(hours=72)
    assert ticket.level is None
    assert (ticket.response_overdue, ticket.resolution_overdue) == (False, False)


def test_an_urgent_ticket_must_be_resolved_within_a_day() -> None:
    ticket = new_ticket(priority="urgent")
    assert ticket.resolve_due_at == T0 + timedelta(hours=24)
    assert ticket.respond_due_at == T0 + timedelta(hours=1)


def test_the_policy_sets_the_response_window_and_per_category_resolution_windows() -> None:
    policy = TicketPolicy(
        response=timedelta(minutes=30),
        by_category={"gas_leak": {"urgent": timedelta(hours=2)}},
    )
    gas = new_ticket(category="gas_leak", priority="urgent", policy=policy)
    gas_normal = new_ticket(category="gas_leak", priority="normal", policy=policy)
    road = new_ticket(category="road", priority="urgent", policy=policy)
    assert gas.respond_due_at == T0 + timedelta(minutes=30)
    assert gas.resolve_due_at == T0 + timedelta(hours=2)
    assert gas_normal.resolve_due_at == T0 + timedelta(hours=72)
    assert road.resolve_due_at == T0 + timedelta(hours=24)


def test_resolution_for_picks_the_category_override_then_the_priority_default() -> None:
    policy = TicketPolicy(
        normal_resolution=timedelta(hours=48),
        by_category={"noise": {"normal": timedelta(hours=8)}},
    )
    assert policy.resolution_for("noise", "normal") == timedelta(hours=8)
    assert policy.resolution_for("noise", "urgent") == timedelta(hours=24)
    assert policy.resolution_for("road", "normal") == timedelta(hours=48)


@pytest.mark.parametrize(
    "policy",
    [
        {"response": timedelta(0)},
        {"urgent_resolution": timedelta(hours=-1)},
        {"by_category": {"noise": {"normal": timedelta(0)}}},
        {"by_category": {"noise": {"critical": timedelta(hours=1)}}},
    ],
)
def test_a_policy_with_a_non_positive_window_or_unknown_priority_is_refused(
    policy: dict[str, Any],
) -> None:
    with pytest.raises(ValueError):
        TicketPolicy(**policy)


@pytest.mark.parametrize(
    "overrides",
    [
        {"category": "  "},
        {"description": ""},
        {"source": "wechat"},
        {"priority": "critical"},
        {"location": {"address": "x", "lat": 90.5, "lon": 0}},
        {"location": {"address": "x", "lat": -91, "lon": 0}},
        {"location": {"address": "x", "lat": 0, "lon": 180.01}},
        {"location": {"address": "x", "lat": 0, "lon": -181}},
        {"location": {"address": "x", "lat": float("nan"), "lon": 0}},
        {"location": {"address": "x", "lat": True, "lon": 0}},
        {"location": {"address": "x", "lat": "39.9", "lon": 0}},
        {"location": {"address": " ", "lat": 0, "lon": 0}},
        {"location": {"address": "x", "lat": 0}},
        {"location": {"address": "x", "lat": 0, "lon": 0, "floor": 3}},
    ],
)
def test_a_report_with_a_bad_value_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(TicketValueError):
        new_ticket(**overrides)


def test_a_location_on_the_edges_of_the_globe_is_accepted() -> None:
    ticket = new_ticket(location={"address": "pole", "lat": -90, "lon": 180})
    assert ticket.location == {"address": "pole", "lat": -90.0, "lon": 180.0}


# --- rejecting ---


def test_a_duplicate_names_the_ticket_it_duplicates() -> None:
    ticket = ticket_in("reported")
    original = uuid4()
    with at(0.1):
        ticket.reject("duplicate", duplicate_of=original)
    assert event_types(ticket) == [Ticket.Rejected]
    assert (ticket.rejection_reason, ticket.duplicate_of) == ("duplicate", original)


@pytest.mark.parametrize(
    ("reason", "duplicate_of"),
    [("duplicate", None), ("invalid", uuid4())],
)
def test_duplicate_of_is_required_for_a_duplicate_and_refused_for_an_invalid_report(
    reason: str, duplicate_of: Any
) -> None:
    ticket = ticket_in("reported")
    with at(0.1), pytest.raises(DuplicateOfError):
        ticket.reject(reason, duplicate_of=duplicate_of)
    assert ticket.collect_events() == []


def test_a_ticket_cannot_be_a_duplicate_of_itself() -> None:
    ticket = ticket_in("reported")
    with at(0.1), pytest.raises(DuplicateOfError):
        ticket.reject("duplicate", duplicate_of=ticket.id)
    assert ticket.collect_events() == []


def test_an_unknown_rejection_reason_is_refused() -> None:
    ticket = ticket_in("reported")
    with at(0.1), pytest.raises(TicketValueError):
        ticket.reject("spam")


# --- dispatching, responding, escalating, supervising ---


def test_a_dispatch_names_a_level_and_a_non_blank_assignee() -> None:
    ticket = ticket_in("accepted")
    with at(0.1), pytest.raises(TicketValueError):
        ticket.dispatch("grid", "  ")
    with at(0.1), pytest.raises(TicketValueError):
        ticket.dispatch("province", "w")
    assert ticket.collect_events() == []
    with at(0.1):
        ticket.dispatch("community", "staff-2")
    assert (ticket.level, ticket.assignee) == ("community", "staff-2")
    assert ticket.dispatched_at == T0 + timedelta(hours=0.1)


def test_the_first_response_sets_responded_at_and_later_ones_keep_it() -> None:
    ticket = ticket_in("dispatched")
    with at(0.5):
        ticket.respond("on my way")
    with at(0.6):
        ticket.escalate("community", "needs the community")
        ticket.dispatch("community", "staff-2")
    with at(3):
        ticket.respond("community is on it")
    assert event_types(ticket) == [
        Ticket.Responded,
        Ticket.Escalated,
        Ticket.Dispatched,
        Ticket.Responded,
    ]
    assert ticket.responded_at == T0 + timedelta(hours=0.5)
    assert ticket.response_overdue is False


def test_a_late_first_response_records_the_missed_deadline_before_the_response() -> None:
    ticket = ticket_in("dispatched")
    with at(1.5):
        ticket.respond("sorry, late")
    events = ticket.collect_events()
    assert [type(e) for e in events] == [Ticket.ResponseOverdue, Ticket.Responded]
    assert events[0].due_at == T0 + timedelta(hours=1)
    assert ticket.response_overdue is True
    assert ticket.responded_at == T0 + timedelta(hours=1.5)


def test_a_response_exactly_at_the_deadline_is_in_time() -> None:
    ticket = ticket_in("dispatched")
    with at(1):
        ticket.respond("just in time")
    assert event_types(ticket) == [Ticket.Responded]


def test_a_late_response_does_not_record_the_miss_twice() -> None:
    ticket = ticket_in("dispatched")
    with at(2):
        ticket.record_response_overdue()
        ticket.respond("late")
    assert event_types(ticket) == [Ticket.ResponseOverdue, Ticket.Responded]


def test_an_escalation_goes_up_clears_the_assignee_and_awaits_dispatch() -> None:
    ticket = ticket_in("responded")
    with at(0.5):
        ticket.escalate("street", "街道吹哨")
    assert event_types(ticket) == [Ticket.Escalated]
    assert (ticket.status, ticket.level, ticket.assignee) == ("accepted", "street", None)
    assert ticket.escalations == [
        {
            "from_level": "grid",
            "to_level": "street",
            "reason": "街道吹哨",
            "at": T0 + timedelta(hours=0.5),
        }
    ]


@pytest.mark.parametrize("to_level", ["grid", "community"])
def test_an_escalation_must_go_strictly_above_the_current_level(to_level: str) -> None:
    ticket = ticket_in("accepted")
    with at(0.1):
        ticket.dispatch("community", "staff-2")
    ticket.collect_events()
    with at(0.2), pytest.raises(EscalationLevelError):
        ticket.escalate(to_level, "again")
    assert ticket.collect_events() == []
    assert ticket.level == "community"


def test_an_escalation_to_an_unknown_level_or_without_a_reason_is_refused() -> None:
    ticket = ticket_in("dispatched")
    with at(0.1), pytest.raises(TicketValueError):
        ticket.escalate("province", "too big")
    with at(0.1), pytest.raises(TicketValueError):
        ticket.escalate("street", "")
    assert ticket.collect_events() == []


@pytest.mark.parametrize(("level", "allowed"), [("community", False), ("street", True)])
def test_after_an_escalation_the_dispatch_is_at_least_at_the_escalated_level(
    level: str, allowed: bool
) -> None:
    ticket = ticket_in("dispatched")
    with at(0.1):
        ticket.escalate("street", "needs the street")
    ticket.collect_events()
    with at(0.2):
        if allowed:
            ticket.dispatch(level, "street-staff")
            assert event_types(ticket) == [Ticket.Dispatched]
        else:
            with pytest.raises(DispatchLevelError):
                ticket.dispatch(level, "staff-2")
            assert ticket.collect_events() == []


def test_a_dispatch_above_the_escalated_level_is_allowed() -> None:
    ticket = ticket_in("dispatched")
    with at(0.1):
        ticket.escalate("community", "needs the community")
        ticket.dispatch("department", "housing bureau")
    assert ticket.level == "department"


def test_supervisions_are_counted() -> None:
    ticket = ticket_in("accepted")
    with at(0.1):
        ticket.supervise("please dispatch")
        ticket.dispatch("grid", "worker-1")
        ticket.supervise("please respond")
    assert len(ticket.supervisions) == 2
    assert ticket.supervisions[1] == {"note": "please respond", "at": T0 + timedelta(hours=0.1)}


@pytest.mark.parametrize(
    ("status", "act"),
    [
        ("dispatched", lambda t: t.respond(" ")),
        ("accepted", lambda t: t.supervise("")),
        ("responded", lambda t: t.resolve("  ")),
        ("resolved", lambda t: t.visit("")),
        ("resolved", lambda t: t.reopen(" ")),
    ],
)
def test_a_blank_note_resolution_or_reason_is_refused(status: str, act: Step) -> None:
    ticket = ticket_in(status)
    with at(0.1), pytest.raises(TicketValueError):
        act(ticket)
    assert ticket.collect_events() == []


# --- resolving, rating, visiting, closing, reopening ---


def test_a_resolution_records_when_and_how() -> None:
    ticket = ticket_in("responded")
    with at(5):
        ticket.resolve("filled the pothole")
    assert event_types(ticket) == [Ticket.Resolved]
    assert (ticket.resolution, ticket.resolved_at) == (
        "filled the pothole",
        T0 + timedelta(hours=5),
    )


def test_a_late_resolution_records_the_missed_deadline_before_the_resolution() -> None:
    ticket = ticket_in("responded")
    with at(80):
        ticket.resolve("finally")
    events = ticket.collect_events()
    assert [type(e) for e in events] == [Ticket.ResolutionOverdue, Ticket.Resolved]
    assert events[0].due_at == T0 + timedelta(hours=72)
    assert ticket.resolution_overdue is True


def test_the_reporting_member_alone_rates_a_ticket_they_reported() -> None:
    reporter = uuid4()
    ticket = ticket_in("resolved", reporter_member_id=reporter)
    with at(6), pytest.raises(RatedByReporterError) as refused:
        ticket.rate("satisfied")
    assert refused.value.rule == "ticket.rated_by_reporter"
    assert ticket.collect_events() == []
    with at(6, actor=Actor(str(reporter), "resident")):
        ticket.rate("basically_satisfied", "slow but fixed")
    assert event_types(ticket) == [Ticket.Rated]
    assert (ticket.satisfaction, ticket.rating_comment) == ("basically_satisfied", "slow but fixed")


def test_a_ticket_without_a_reporting_member_may_be_rated_by_whoever_records_it() -> None:
    ticket = ticket_in("resolved", source="hotline")
    with at(6, actor=Actor("hotline-7", "community_staff")):
        ticket.rate("dissatisfied")
    assert ticket.satisfaction == "dissatisfied"


def test_a_resolution_is_rated_once() -> None:
    ticket = ticket_in("resolved")
    with at(6):
        ticket.rate("satisfied")
    ticket.collect_events()
    with at(7), pytest.raises(AlreadyRatedError):
        ticket.rate("dissatisfied")
    assert ticket.collect_events() == []
    assert ticket.satisfaction == "satisfied"


def test_an_unknown_satisfaction_is_refused() -> None:
    ticket = ticket_in("resolved")
    with at(6), pytest.raises(TicketValueError):
        ticket.rate("5")


def test_return_visits_may_be_repeated_before_closing() -> None:
    ticket = ticket_in("resolved")
    with at(6):
        ticket.visit("called the reporter")
        ticket.visit("visited in person")
        ticket.close()
    assert event_types(ticket) == [Ticket.Visited, Ticket.Visited, Ticket.Closed]
    assert [v["note"] for v in ticket.visits] == ["called the reporter", "visited in person"]
    assert ticket.closed_at == T0 + timedelta(hours=6)


def test_a_reopen_starts_a_new_round_at_the_same_level_and_assignee() -> None:
    ticket = ticket_in("resolved", priority="urgent")
    with at(6):
        ticket.rate("dissatisfied")
        ticket.close()
    with at(30):
        ticket.reopen("water is leaking again")
    assert event_types(ticket) == [Ticket.Rated, Ticket.Closed, Ticket.Reopened]
    assert ticket.status == "dispatched"
    assert (ticket.level, ticket.assignee) == ("grid", "worker-1")
    assert (ticket.resolved_at, ticket.closed_at, ticket.satisfaction) == (None, None, None)
    assert ticket.resolve_due_at == T0 + timedelta(hours=30 + 24)
    assert ticket.reopen_count == 1
    assert ticket.responded_at == T0


def test_a_reopened_ticket_may_be_rated_again_after_its_new_resolution() -> None:
    ticket = ticket_in("resolved")
    with at(6):
        ticket.rate("dissatisfied")
        ticket.reopen("not fixed")
        ticket.respond("back on it")
        ticket.resolve("fixed properly")
        ticket.rate("satisfied")
    assert ticket.satisfaction == "satisfied"
    assert ticket.responded_at == T0


def test_a_reopen_uses_the_policy_window_from_the_reopening() -> None:
    ticket = ticket_in("resolved", category="noise")
    policy = TicketPolicy(by_category={"noise": {"normal": timedelta(hours=8)}})
    with at(10):
        ticket.reopen("noisy again", policy=policy)
    assert ticket.resolve_due_at == T0 + timedelta(hours=18)


# --- recording missed deadlines ---


def test_a_missed_response_is_recorded_once_after_the_deadline() -> None:
    ticket = ticket_in("reported")
    with at(1), pytest.raises(ResponseNotOverdueError):
        ticket.record_response_overdue()
    with at(1.01):
        ticket.record_response_overdue()
    assert event_types(ticket) == [Ticket.ResponseOverdue]
    assert ticket.response_overdue is True
    with at(2), pytest.raises(ResponseNotOverdueError) as refused:
        ticket.record_response_overdue()
    assert refused.value.rule == "ticket.response_overdue"
    assert ticket.collect_events() == []


def test_a_missed_response_is_not_recorded_for_a_ticket_responded_to_in_time() -> None:
    ticket = ticket_in("responded")
    with at(2), pytest.raises(ResponseNotOverdueError):
        ticket.record_response_overdue()
    assert ticket.collect_events() == []


@pytest.mark.parametrize("status", ["rejected", "closed"])
def test_no_missed_deadline_is_recorded_for_a_finished_ticket(status: str) -> None:
    ticket = ticket_in(status)
    with at(100), pytest.raises(ResponseNotOverdueError):
        ticket.record_response_overdue()
    with at(100), pytest.raises(ResolutionNotOverdueError):
        ticket.record_resolution_overdue()
    assert ticket.collect_events() == []


def test_a_rejected_ticket_never_responded_to_records_no_missed_response() -> None:
    ticket = ticket_in("reported")
    with at(0.5):
        ticket.reject("invalid")
    ticket.collect_events()
    with at(5), pytest.raises(ResponseNotOverdueError):
        ticket.record_response_overdue()


@pytest.mark.parametrize("status", ["reported", "accepted", "dispatched", "responded"])
def test_a_missed_resolution_is_recorded_once_while_the_ticket_is_open(status: str) -> None:
    ticket = ticket_in(status)
    with at(72), pytest.raises(ResolutionNotOverdueError):
        ticket.record_resolution_overdue()
    with at(73):
        ticket.record_resolution_overdue()
    assert event_types(ticket) == [Ticket.ResolutionOverdue]
    with at(74), pytest.raises(ResolutionNotOverdueError) as refused:
        ticket.record_resolution_overdue()
    assert refused.value.rule == "ticket.resolution_overdue"
    assert ticket.collect_events() == []


def test_a_resolved_ticket_records_no_missed_resolution() -> None:
    ticket = ticket_in("resolved")
    with at(100), pytest.raises(ResolutionNotOverdueError):
        ticket.record_resolution_overdue()


def test_each_round_after_a_reopen_can_miss_its_resolution_deadline() -> None:
    ticket = ticket_in("responded")
    with at(73):
        ticket.record_resolution_overdue()
        ticket.resolve("done")
        ticket.reopen("not done")
    assert ticket.resolution_overdue is False
    with at(73 + 72), pytest.raises(ResolutionNotOverdueError):
        ticket.record_resolution_overdue()
    with at(73 + 73):
        ticket.record_resolution_overdue()
    assert ticket.resolution_overdue is True
    assert ticket.resolution_overdue_count == 2
    assert event_types(ticket).count(Ticket.ResolutionOverdue) == 2


def test_a_refusal_to_record_a_missed_deadline_is_a_rule_violation() -> None:
    assert issubclass(ResponseNotOverdueError, RuleViolationError)
    assert issubclass(ResolutionNotOverdueError, RuleViolationError)


def test_events_carry_the_actor_and_the_recorded_time() -> None:
    ticket = ticket_in("reported")
    with at(0.25, actor=Actor("staff-9", "community_staff")):
        ticket.accept()
    (accepted,) = ticket.collect_events()
    assert (accepted.actor_id, accepted.actor_role) == ("staff-9", "community_staff")
    assert accepted.recorded_at == T0 + timedelta(hours=0.25)
