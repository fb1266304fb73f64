"""A ticket's vocabulary, which status allows which action, its deadlines, and the
checks on the values a ticket command carries.

Levels rise grid < community < street < department ("小事不出网格、大事不出社区",
"街道吹哨,部门报到"): an escalation only goes up. The response deadline is one hour
after the report by default; the resolution deadline depends on the category and
priority. Both are configurable through `TicketPolicy`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from domain.errors import TicketValueError


class Status(StrEnum):
    REPORTED = "reported"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DISPATCHED = "dispatched"
    RESPONDED = "responded"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Level(StrEnum):
    GRID = "grid"
    COMMUNITY = "community"
    STREET = "street"
    DEPARTMENT = "department"

    @property
    def rank(self) -> int:
        return list(Level).index(self)


class Source(StrEnum):
    GRID_WORKER = "grid_worker"
    RESIDENT = "resident"
    HOTLINE = "hotline"


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"


class RejectionReason(StrEnum):
    INVALID = "invalid"
    DUPLICATE = "duplicate"


ALLOWED_FROM: dict[str, frozenset[Status]] = {
    "accept": frozenset({Status.REPORTED}),
    "reject": frozenset({Status.REPORTED}),
    "dispatch": frozenset({Status.ACCEPTED}),
    "respond": frozenset({Status.DISPATCHED}),
    "escalate": frozenset({Status.DISPATCHED, Status.RESPONDED}),
    "supervise": frozenset({Status.ACCEPTED, Status.DISPATCHED, Status.RESPONDED}),
    "resolve": frozenset({Status.RESPONDED}),
    "rate": frozenset({Status.RESOLVED}),
    "visit": frozenset({Status.RESOLVED}),
    "close": frozenset({Status.RESOLVED}),
    "reopen": frozenset({Status.RESOLVED, Status.CLOSED}),
}

FINISHED: frozenset[Status] = frozenset({Status.REJECTED, Status.CLOSED})


@dataclass(frozen=True)
class TicketPolicy:
    """How long a ticket may wait for its first response and for its resolution.

    `by_category` overrides the resolution window per category and priority, e.g.
    `{"safety_hazard": {"normal": timedelta(hours=24), "urgent": timedelta(hours=4)}}`;
    a priority a category does not name falls back to the default for that priority.
    """

    response: timedelta = timedelta(hours=1)
    normal_resolution: timedelta = timedelta(hours=72)
    urgent_resolution: timedelta = timedelta(hours=24)
    by_category: Mapping[str, Mapping[str, timedelta]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        windows = [self.response, self.normal_resolution, self.urgent_resolution]
        for category, overrides in self.by_category.items():
            unknown = set(overrides) - {p.value for p in Priority}
            if unknown:
                raise ValueError(f"{category}: unknown priorities {sorted(unknown)}")
            windows.extend(overrides.values())
        if any(window <= timedelta(0) for window in windows):
            raise ValueError("every ticket deadline window must be positive")

    def resolution_for(self, category: str, priority: str) -> timedelta:
        """The time a ticket of this category and priority has to be resolved."""
        chosen = parse(Priority, priority, "priority")
        default = self.urgent_resolution if chosen is Priority.URGENT else self.normal_resolution
        return self.by_category.get(category, {}).get(chosen.value, default)


DEFAULT_POLICY = TicketPolicy()

E = TypeVar("E", bound=StrEnum)


def parse(enum: type[E], value: str, name: str) -> E:
    """`value` as a member of `enum`, or TicketValueError naming the field."""
    try:
        return enum(value)
    except ValueError:
        choices = "|".join(member.value for member in enum)
        raise TicketValueError(f"{name} must be one of {choices}, not {value!r}") from None


def text(value: str, name: str) -> str:
    """`value` stripped, or TicketValueError when it is blank."""
    if not isinstance(value, str) or not value.strip():
        raise TicketValueError(f"{name} must not be blank")
    return value.strip()


def checked_location(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A location `{address, lat, lon}` on the globe, or TicketValueError."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"address", "lat", "lon"}:
        raise TicketValueError("location must have exactly address, lat and lon")
    checked: dict[str, Any] = {"address": text(value["address"], "location address")}
    for name, bound in (("lat", 90), ("lon", 180)):
        coordinate = value[name]
        if isinstance(coordinate, bool) or not isinstance(coordinate, int | float | Decimal):
            raise TicketValueError(f"location {name} must be a number")
        if not -bound <= coordinate <= bound:
            raise TicketValueError(f"location {name} must be from {-bound} to {bound}")
        checked[name] = float(coordinate)
    return checked


def why_not_overdue(
    *, status: str, met: bool, recorded: bool, due_at: datetime, now: datetime, what: str
) -> str | None:
    """Why a missed `what` (response, resolution) cannot be recorded now; None if it can."""
    if status in FINISHED:
        return f"the ticket is {status}"
    if met:
        return f"the {what} was given"
    if recorded:
        return f"the missed {what} is already recorded"
    if now <= due_at:
        return f"the {what} is not due until {due_at.isoformat()}"
    return None
