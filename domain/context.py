"""Who is acting, and when: the context every event is recorded in.

`Governance` opens a context for each command; aggregates read it when they trigger
events, so every event records its actor, the server time (`recorded_at`, the event's
`timestamp`) and, where the client gave one, the field time (`occurred_at`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from domain.errors import NoActorError

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Actor:
    """The authenticated party on whose behalf a command runs (a token's sub and role)."""

    id: str
    role: str

    def is_member(self, member_id: object) -> bool:
        """Whether this actor is the member `member_id` (ids compared as UUIDs)."""
        try:
            return UUID(self.id.strip()) == UUID(str(member_id))
        except ValueError:
            return False


SYSTEM = Actor(id="system", role="system")


@dataclass(frozen=True)
class CommandContext:
    actor: Actor
    now: datetime
    occurred_at: datetime | None = None


_current: ContextVar[CommandContext | None] = ContextVar("gridledger_command", default=None)


@contextmanager
def acting(
    actor: Actor, *, now: datetime | None = None, occurred_at: datetime | None = None
) -> Iterator[CommandContext]:
    """Run the enclosed commands as `actor` at server time `now`."""
    ctx = CommandContext(actor=actor, now=now or system_clock(), occurred_at=occurred_at)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def current() -> CommandContext:
    ctx = _current.get()
    if ctx is None:
        raise NoActorError
    return ctx
