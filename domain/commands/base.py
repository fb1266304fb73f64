"""The command pipeline shared by every command of `Governance`.

A command handler is a function that loads aggregates, calls their methods (which
check the rules) and returns an `Outcome`: the aggregates to save, the one to report
and any extra answer fields. `_execute` runs it inside an `acting(...)` context,
saves everything in one transaction together with the idempotency record, retries on
a concurrent change, and answers `(id, version, position)`.

Inside `with governance.batch():` (a unit of work) commands are not saved one by one:
each runs its handler on copies of the aggregates it loads, and only when the handler
succeeds are its events kept (in command order) and its aggregates merged into the
batch's identity map, so later commands of the batch see them. Leaving the block saves
every kept event in one `save()` (one transaction); an exception leaving the block
saves nothing. See `Batch`.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    Repository,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, PersistenceError, Recording

from domain.context import Clock, acting, system_clock
from domain.errors import (
    ConcurrencyConflictError,
    DomainError,
    IdempotencyKeyReusedError,
    InvalidValueError,
    NotFoundError,
)
from domain.idempotency import IdempotencyRecord
from domain.personal_data import PersonalData, Sealer, plain

if TYPE_CHECKING:
    from domain.jurisdiction import Jurisdiction, Kind
    from domain.member import Member

from domain.commands.batch import Batch, BatchUsageError, IdentityMap, active_batch
from domain.commands.outcome import Arguments, CommandResult, Handler, Meta, Outcome

__all__ = [
    "Arguments",
    "Batch",
    "BatchUsageError",
    "CommandBase",
    "CommandResult",
    "Handler",
    "IdentityMap",
    "Meta",
    "Outcome",
    "checked_occurred_at",
    "command",
]


A = TypeVar("A", bound=Aggregate)

log = logging.getLogger(__name__)

OCCURRED_AT_SKEW = timedelta(minutes=5)

MAX_ATTEMPTS = 5


S = TypeVar("S", bound="CommandBase")
P = ParamSpec("P")


def command(
    method: Callable[Concatenate[S, Meta, P], Handler],
) -> Callable[Concatenate[S, Meta, P], CommandResult]:
    """A command of `Governance`: `method` checks what it can up front and answers its
    handler; the command runs that through `_execute` under the method's name. The
    fingerprint of an idempotency key is taken over the arguments the command was called
    with, by name and with their defaults, so no command lists them a second time."""
    name = method.__name__
    signature = inspect.signature(method)

    @wraps(method)
    def run(self: S, meta: Meta, /, *args: P.args, **kwargs: P.kwargs) -> CommandResult:
        handler = method(self, meta, *args, **kwargs)
        return self._execute(meta, name, lambda: _called_with(signature, args, kwargs), handler)

    return run


def _called_with(
    signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The arguments after `self` and `meta` by name, defaults filled in."""
    bound = signature.bind(None, None, *args, **kwargs)
    bound.apply_defaults()
    return dict(list(bound.arguments.items())[2:])


class PositionLookup(Protocol):
    def position_of(self, originator_id: UUID, version: int) -> int | None: ...


class CommandBase(Application[UUID]):
    """The pipeline every command mixin runs its handlers through."""

    clock: Clock = staticmethod(system_clock)
    personal: PersonalData | None = None
    """Seals personal fields under per-person keys; None: they are stored in clear (only
    tests and benchmarks build one without: `api.runtime.build` always gives one)."""

    def new_subject_sealer(self) -> Sealer:
        """The sealer for a new person's data: a fresh data key, drawn on first use."""
        return plain if self.personal is None else self.personal.for_new_subject()

    def sealer_under(self, kid: UUID | None) -> Sealer:
        """The sealer for more data of a person whose data is sealed under `kid` (None:
        a person registered in clear, before sealing existed: kept in clear)."""
        if self.personal is None or kid is None:
            return plain
        return self.personal.with_key(kid)

    if TYPE_CHECKING:
        # What the command mixins call on JurisdictionCommands and MemberCommands (which
        # `Governance` lists first, so the others cannot inherit them).
        def jurisdiction(self, code: str) -> Jurisdiction: ...
        def community_of(self, code: str) -> str: ...
        def require_kind(self, code: str, *kinds: Kind) -> Jurisdiction: ...
        def member(self, member_id: UUID | str) -> Member: ...

    def _take_snapshots(self, processing_event: Any) -> None:
        """Snapshots are taken after the commit and only speed up loading: a failure
        (a concurrent writer's snapshot, a dropped connection) must not make an
        acknowledged command look failed, or be retried on top of itself."""
        try:
            super()._take_snapshots(processing_event)
        except PersistenceError as error:
            log.warning("snapshot not taken (the events are saved): %s", error)

    def construct_repository(self) -> Repository[UUID]:
        self._unsnapshotted = Repository(event_store=self.events)
        return super().construct_repository()

    def _repository_for(self, cls: type[Aggregate]) -> Repository[UUID]:
        """Aggregates never snapshotted skip the snapshot store's extra query."""
        if any(issubclass(cls, s) for s in self.snapshotting_intervals):
            return self.repository
        return self._unsnapshotted

    @contextmanager
    def batch(self, identity: IdentityMap | None = None) -> Iterator[Batch]:
        """A unit of work: the enclosed commands are saved together, in one transaction,
        on leaving the block, and each sees what the earlier ones did (see `Batch`). An
        exception leaving the block saves nothing; a command refused inside it (a
        DomainError the caller catches) changes nothing and the batch goes on. `identity`
        carries what earlier batches saved (see `IdentityMap`: only for a sole writer)."""
        if active_batch.get() is not None:
            raise BatchUsageError("a batch is already open here; batches do not nest")
        work = Batch(self, identity)
        token = active_batch.set(work)
        try:
            yield work
        finally:
            active_batch.reset(token)
        work.commit()

    def _open_batch(self) -> Batch | None:
        work = active_batch.get()
        return work if work is not None and work.app is self else None

    def _load(self, cls: type[Aggregate], aggregate_id: UUID) -> Aggregate:
        repository = self._repository_for(cls)
        work = self._open_batch()
        if work is None:
            return repository.get(aggregate_id)
        return work.load(aggregate_id, lambda: repository.get(aggregate_id))

    def _get(self, cls: type[A], aggregate_id: UUID | str, kind: str) -> A:
        """Load an aggregate of `cls`, or raise NotFoundError naming `kind`."""
        try:
            agg_id = aggregate_id if isinstance(aggregate_id, UUID) else UUID(str(aggregate_id))
            aggregate = self._load(cls, agg_id)
        except (AggregateNotFoundError, ValueError):
            raise NotFoundError(kind, aggregate_id) from None
        if not isinstance(aggregate, cls):
            raise NotFoundError(kind, aggregate_id)
        return aggregate

    def _find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        """Load an aggregate of `cls` if it exists."""
        try:
            aggregate = self._load(cls, aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def _execute(
        self,
        meta: Meta,
        command: str,
        args: Arguments,
        handler: Handler,
    ) -> CommandResult:
        meta = checked_occurred_at(meta, self.clock())
        work = self._open_batch()
        if work is not None:
            if meta.idempotency_key is not None:
                raise BatchUsageError(
                    f"{command}: idempotency keys are not accepted inside a batch"
                )
            return work.run(meta, self.clock, handler)
        key = meta.idempotency_key
        accepted = (
            ()
            if key is None
            else _fingerprints(command, args() if callable(args) else args, self._digest_key())
        )
        fingerprint = accepted[0] if accepted else ""

        def answered_before() -> CommandResult | None:
            """The first answer to this key, if a request with it has been saved."""
            if key is None:
                return None
            return self._answer_again(meta.actor.id, accepted, key)

        earlier = answered_before()
        if earlier is not None:
            return earlier
        for _attempt in range(MAX_ATTEMPTS):
            with acting(meta.actor, now=self.clock(), occurred_at=meta.occurred_at):
                try:
                    outcome = handler()
                except DomainError:
                    # A concurrent request with the same key may have won meanwhile.
                    earlier = answered_before()
                    if earlier is not None:
                        return earlier
                    raise
                to_save = _with_record(outcome, meta.actor.id, key, fingerprint)
            try:
                recordings = self.save(*to_save)
            except IntegrityError:
                earlier = answered_before()
                if earlier is not None:
                    return earlier
                continue
            return self._saved(outcome, recordings)
        raise ConcurrencyConflictError(
            f"{command} met concurrent changes {MAX_ATTEMPTS} times; try again"
        )

    def _digest_key(self) -> bytes | None:
        return None if self.personal is None else self.personal.digest_key()

    def _saved(self, outcome: Outcome, recordings: list[Recording[UUID]]) -> CommandResult:
        """The answer to a command whose `outcome` was saved as `recordings`."""
        position = max((r.notification.id for r in recordings), default=0)
        if not recordings:
            position = self._position_of(outcome.primary.id, outcome.primary.version)
        return CommandResult(
            id=outcome.primary.id,
            version=outcome.primary.version,
            position=position,
            extra=outcome.extra,
        )

    def _answer_again(
        self, actor_id: str, accepted: tuple[str, ...], key: str
    ) -> CommandResult | None:
        found = (self._find(IdempotencyRecord, i) for i in IdempotencyRecord.ids_for(actor_id, key))
        record = next((r for r in found if r is not None and r.belongs_to(actor_id, key)), None)
        if record is None:
            return None
        if record.fingerprint not in accepted:
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


def _with_record(
    outcome: Outcome, actor_id: str, key: str | None, fingerprint: str
) -> list[Aggregate]:
    """The aggregates to save: the outcome's, and the idempotency record of `key`."""
    to_save = list(outcome.aggregates)
    if key is not None:
        to_save.append(
            IdempotencyRecord(
                actor_id=actor_id,
                key=key,
                fingerprint=fingerprint,
                result_id=outcome.primary.id,
                result_version=outcome.primary.version,
                extra=outcome.extra,
            )
        )
    return to_save


def _canonical(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).isoformat()
    return str(value)


KEYED = "hmac-sha256:"


def _fingerprints(command: str, args: Mapping[str, Any], secret: bytes | None) -> tuple[str, ...]:
    """What an idempotency record of this request may hold, the one to store first: an
    HMAC under the server's secret (a plain hash of a registration's name and phone
    could be confirmed by guessing them, and the record stays in the log after an
    erasure), and the SHA-256 records held before (still answered for their own
    request). Without a secret (no key store), only the SHA-256."""
    plain_digest = _fingerprint(command, args)
    if secret is None:
        return (plain_digest,)
    keyed = hmac.new(secret, _body(command, args), hashlib.sha256).hexdigest()
    return KEYED + keyed, plain_digest


def _body(command: str, args: Mapping[str, Any]) -> bytes:
    body = json.dumps([command, args], sort_keys=True, default=_canonical, ensure_ascii=False)
    return body.encode()


def _fingerprint(command: str, args: Mapping[str, Any]) -> str:
    """The plain SHA-256 of a request (what records held before they were keyed)."""
    return hashlib.sha256(_body(command, args)).hexdigest()


def checked_occurred_at(meta: Meta, now: datetime) -> Meta:
    """Refuse a field time without a time zone or in the future; store it in UTC."""
    if meta.occurred_at is None:
        return meta
    if meta.occurred_at.tzinfo is None:
        raise InvalidValueError("occurred_at must carry a time zone", rule="event.occurred_at")
    if meta.occurred_at > now + OCCURRED_AT_SKEW:
        raise InvalidValueError("occurred_at lies in the future", rule="event.occurred_at")
    return replace(meta, occurred_at=meta.occurred_at.astimezone(UTC))
