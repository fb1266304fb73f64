"""What a command is asked with and answers: `Meta`, `Outcome` and `CommandResult`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.context import Actor


@dataclass(frozen=True)
class Meta:
    """Who asks, when it happened in the field, and the client's idempotency key."""

    actor: Actor
    occurred_at: datetime | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class CommandResult:
    id: UUID
    version: int
    position: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    primary: Aggregate
    others: list[Aggregate] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def aggregates(self) -> list[Aggregate]:
        return [self.primary, *self.others]


Handler = Callable[[], Outcome]
"""What a command method answers: the work that loads, decides and returns the Outcome."""

Arguments = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
"""A command's arguments (those an idempotency key's fingerprint is taken over), or how
to get them."""


def place(result: CommandResult, position: int) -> None:
    object.__setattr__(result, "position", position)
