"""The ticket events the deadline index skips change nothing `open_deadlines` reads."""

from __future__ import annotations

import contextlib
import inspect
from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.context import Actor, acting
from domain.errors import DomainError
from domain.ticket import Ticket
from projections.deadlines.index import DEADLINE_NEUTRAL, open_deadlines
from tests.unit.test_ticket_machine import ACTS, NEXT, T0, reported

CHANGING = {"Reported", "Rejected", "Responded", "Resolved", "Closed", "Reopened"} | {
    "ResponseOverdue",
    "ResolutionOverdue",
}
"""The ticket events after which the index loads the ticket again."""


def test_every_ticket_event_is_either_neutral_or_refreshes_the_index() -> None:
    events = {
        name
        for name, value in vars(Ticket).items()
        if inspect.isclass(value) and issubclass(value, Ticket.Event)
    } - {"Event", "Created"}  # the base class, and the library's unused creation event
    assert events == DEADLINE_NEUTRAL | CHANGING
    assert not DEADLINE_NEUTRAL & CHANGING


def _record_overdue(ticket: Ticket) -> None:
    for record in (ticket.record_response_overdue, ticket.record_resolution_overdue):
        with contextlib.suppress(DomainError):
            record()


@settings(max_examples=300, deadline=None)
@given(data=st.data(), priority=st.sampled_from(["normal", "urgent"]))
def test_a_neutral_event_never_moves_a_deadline(data: st.DataObject, priority: str) -> None:
    """A walk of allowed actions (and overdue checks) through a ticket's life, at random
    moments: after each step whose events are all neutral, the open deadlines are as
    they were."""
    now = T0
    actor = Actor("worker-1", "grid_worker")
    with acting(actor, now=now):
        ticket = reported(priority)
    ticket.collect_events()
    for _ in range(data.draw(st.integers(1, 30))):
        allowed = sorted(a for a, moves in NEXT.items() if ticket.status in moves)
        action = data.draw(st.sampled_from([*allowed, "overdue"]))
        now += timedelta(minutes=data.draw(st.one_of(st.integers(0, 90), st.integers(0, 4800))))
        before = open_deadlines(ticket)
        act: Any = _record_overdue if action == "overdue" else ACTS[action]
        with acting(actor, now=now), contextlib.suppress(DomainError):
            act(ticket)
        names = {type(e).__name__ for e in ticket.collect_events()}
        if names and names <= DEADLINE_NEUTRAL:
            assert open_deadlines(ticket) == before, (action, names)
