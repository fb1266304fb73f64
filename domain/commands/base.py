"""The command pipeline shared by every command of `Governance`.

A command handler is a function that loads aggregates, calls their methods (which
check the rules) and returns an `Outcome`: the aggregates to save, the one to report
and any extra answer fields. `_execute` runs it inside an `acting(...)` context,
saves everything in one transaction together with the idempotency record, retries on
a concurrent change, and answers `(id, version, position)`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.context import Actor, Clock, acting, system_clock
from domain.errors import (
    ConcurrencyConflictError,
    DomainError,
    IdempotencyKeyReusedError,
    NotFoundError,
)
from domain.idempotency import IdempotencyRecord

A = TypeVar("A", bound=Aggregate)

MAX_ATTEMPTS = 5


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


class PositionLookup(Protocol):
    def position_of(self, originator_id: UUID, version: int) -> int | None: ...


class CommandBase(Application):
    """The pipeline every command mixin runs its handlers through."""

    clock: Clock = staticmethod(system_clock)

    def construct_repository(self) -> Repository:
        self._unsnapshotted = Repository(event_store=self.events)
        return super().construct_repository()

    def _repository_for(self, cls: type[Aggregate]) -> Repository:
        """Aggregates never snapshotted skip the snapshot store's extra query."""
        if any(issubclass(cls, s) for s in self.snapshotting_intervals):
            return self.repository
        return self._unsnapshotted

    def _get(self, cls: type[A], aggregate_id: UUID | str, kind: str) -> A:
        """Load an aggregate of `cls`, or raise NotFoundError naming `kind`."""
        try:
            agg_id = aggregate_id if isinstance(aggregate_id, UUID) else UUID(str(aggregate_id))
            aggregate = self._repository_for(cls).get(agg_id)
        except (AggregateNotFoundError, ValueError):
            raise NotFoundError(kind, aggregate_id) from None
        if not isinstance(aggregate, cls):
            raise NotFoundError(kind, aggregate_id)
        return aggregate

    def _find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """Load an aggregate of `cls` if it exists."""
        try:
            aggregate = self._repository_for(cls).get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def _execute(
        self,
        meta: Meta,
        command: str,
        args: dict[str, Any],
        handler: Callable[[], Outcome],
    ) -> CommandResult:
        record_id: UUID | None = None
        fingerprint = ""
        if meta.idempotency_key is not None:
            record_id = IdempotencyRecord.id_for(meta.actor.id, meta.idempotency_key)
            fingerprint = _fingerprint(command, args)
            earlier = self._answer_again(record_id, fingerprint, meta.idempotency_key)
            if earlier is not None:
                return earlier
        for _attempt in range(MAX_ATTEMPTS):
            with acting(meta.actor, now=self.clock(), occurred_at=meta.occurred_at):
                try:
                    outcome = handler()
                except DomainError:
                    # A concurrent request with the same key may have won meanwhile.
                    if record_id is not None and meta.idempotency_key is not None:
                        earlier = self._answer_again(record_id, fingerprint, meta.idempotency_key)
                        if earlier is not None:
                            return earlier
                    raise
                to_save = list(outcome.aggregates)
                if record_id is not None and meta.idempotency_key is not None:
                    to_save.append(
                        IdempotencyRecord(
                            actor_id=meta.actor.id,
                            key=meta.idempotency_key,
                            fingerprint=fingerprint,
                            result_id=outcome.primary.id,
                            result_version=outcome.primary.version,
                            extra=outcome.extra,
                        )
                    )
            try:
                recordings = self.save(*to_save)
            except IntegrityError:
                if record_id is not None and meta.idempotency_key is not None:
                    earlier = self._answer_again(record_id, fingerprint, meta.idempotency_key)
                    if earlier is not None:
                        return earlier
                continue
            position = max((r.notification.id for r in recordings), default=0)
            if not recordings:
                position = self._position_of(outcome.primary.id, outcome.primary.version)
            return CommandResult(
                id=outcome.primary.id,
                version=outcome.primary.version,
                position=position,
                extra=outcome.extra,
            )
        raise ConcurrencyConflictError(
            f"{command} met concurrent changes {MAX_ATTEMPTS} times; try again"
        )

    def _answer_again(self, record_id: UUID, fingerprint: str, key: str) -> CommandResult | None:
        record = self._find(IdempotencyRecord, record_id)
        if record is None:
            return None
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReusedError(key)
        position = self._position_of(record.id, record.version)
        return CommandResult(
            id=record.result_id,
            version=record.result_version,
            position=position,
            extra=dict(record.extra),
        )

    def _position_of(self, aggregate_id: UUID, version: int) -> int:
        lookup: PositionLookup | Any = self.recorder
        if hasattr(lookup, "position_of"):
            return lookup.position_of(aggregate_id, version) or 0
        return 0


def _fingerprint(command: str, args: dict[str, Any]) -> str:
    body = json.dumps([command, args], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()
