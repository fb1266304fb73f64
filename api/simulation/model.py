"""The simulation's clock, its report, what it keeps of the world, and small helpers."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from api.simulation.data import DEFAULT_START, GIVEN, NUMERALS, SURNAMES
from domain.calendar import LOCAL_TZ
from domain.commands.base import Meta


class SimClock:
    """The simulated clock `Governance` reads; the simulation sets it. It starts at
    `start` (a time, or a date's local midnight; default DEFAULT_START)."""

    def __init__(self, start: datetime | date | None = None) -> None:
        if start is None:
            start = DEFAULT_START
        self.now = start if isinstance(start, datetime) else at_local(start, 0)

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when


@dataclass
class SimReport:
    """What a simulation did: commands accepted and refused, events written, the sizes."""

    scale: str
    seed: int
    start: date
    end: date
    days_done: int = 0
    events: int = 0
    batches: int = 0
    seconds: float = 0.0
    commands: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    sizes: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def lines(self) -> list[str]:
        """The report as lines of text."""
        out = [
            f"{self.scale} scale, seed {self.seed}: {self.start} to {self.end} ({self.days} days)",
            f"events written: {self.events:,} in {self.batches:,} batches, {self.seconds:.1f}s "
            f"= {self.events_per_second:,.0f} events/s",
            f"commands: {sum(self.commands.values()):,} accepted, "
            f"{sum(self.refused.values()):,} refused; {self.in_flight:,} follow-ups in flight",
            "sizes: " + ", ".join(f"{k} {v:,}" for k, v in self.sizes.items()),
        ]
        out += [f"  {name:<26} {n:>9,}" for name, n in sorted(self.commands.items())]
        out += [f"  refused {name}: {n:,}" for name, n in sorted(self.refused.items())]
        return out


# ---------------------------------------------------------------------------------------
# The shadow state the generator keeps to choose sensible commands.


@dataclass(eq=False)
class Street:
    code: str
    name: str
    staff: Meta


@dataclass(eq=False)
class Community:
    code: str
    name: str
    street: Street
    staff: tuple[Meta, Meta]
    grids: list[Grid] = field(default_factory=list)
    members: list[str] = field(default_factory=list)  # living or reported in here
    party: list[str] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    accounts: dict[str, None] = field(default_factory=dict)  # members who may hold points


@dataclass(eq=False)
class Grid:
    code: str
    name: str
    community: Community
    residents: list[str] = field(default_factory=list)
    worker: Meta | None = None
    worker_id: str | None = None
    heads: list[str] = field(default_factory=list)
    open_tickets: list[SimTicket] = field(default_factory=list)


@dataclass(eq=False)
class SimTicket:
    id: str
    grid: Grid
    category: str
    priority: str
    reporter: str | None
    source: str
    respond_due: datetime
    resolve_due: datetime
    level: str = "grid"
    responded: bool = False
    escalate: bool = False
    supervise: bool = False
    overdue_resolution: bool = False
    rounds: int = 0


@dataclass(eq=False)
class SimPledge:
    id: str
    member: str
    community: Community
    verifier: Meta
    target: Decimal
    due_on: date
    fate: str  # fulfil | lapse | withdraw
    logged: Decimal = Decimal(0)
    open: bool = True
    fulfilled: bool = False


@dataclass(eq=False)
class SimActivity:
    id: str
    organiser: Meta
    community: Community
    starts: datetime
    ends: datetime
    points: bool
    checked_in: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)


def at_local(day: date, hours: float) -> datetime:
    """The UTC instant `hours` after local midnight of `day`."""
    midnight = datetime.combine(day, time(0), tzinfo=LOCAL_TZ)
    return (midnight + timedelta(hours=hours)).astimezone(UTC)


def next_tick(when: datetime) -> datetime:
    """The watcher's next round after `when` (it runs every five minutes)."""
    return when + timedelta(minutes=5 - when.minute % 5, seconds=-when.second)


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, min(day.day, 28))


def winter(day: date) -> bool:
    return day.month in (12, 1, 2)


def numeral(index: int) -> str:
    if index < 10:
        return NUMERALS[index]
    tens, ones = divmod(index + 1, 10)
    return (NUMERALS[tens - 1] if tens > 1 else "") + "十" + (NUMERALS[ones - 1] if ones else "")


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def weighted(rng: random.Random, choices: list[tuple[str, int]]) -> str:
    return rng.choices([c[0] for c in choices], weights=[c[1] for c in choices])[0]


def weighted_row(rng: random.Random, rows: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    return rng.choices(rows, weights=[r[1] for r in rows])[0]
