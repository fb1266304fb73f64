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

import copy
import hashlib
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, PersistenceError, Recording

from domain.context import Actor, Clock, acting, system_clock
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
    from domain.rulebook import Rule

A = TypeVar("A", bound=Aggregate)

log = logging.getLogger(__name__)

OCCURRED_AT_SKEW = timedelta(minutes=5)

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


class BatchUsageError(RuntimeError):
    """Raised when batch mode is misused: a batch inside a batch, or an idempotency key
    given to a command inside a batch."""


class IdentityMap:
    """Aggregates as the batches of one process last saved (or read) them, kept from one
    batch to the next: pass the same map to each `batch(identity=...)` and later batches
    load from memory instead of from the store.

    Only for a process that is the store's only writer (an import, a simulation): a
    writer it does not know of makes it stale; a batch that then changes a stale
    aggregate fails on its save with ConcurrencyConflictError (nothing is lost, and the
    map is cleared), but commands may have read stale aggregates they did not change.
    Bounded: beyond `max_size` entries, the least recently used are dropped (and loaded
    from the store again when needed)."""

    def __init__(self, max_size: int = 200_000) -> None:
        self.max_size = max_size
        self._entries: OrderedDict[UUID, Aggregate | None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, aggregate_id: object) -> bool:
        return aggregate_id in self._entries

    def get(self, aggregate_id: UUID) -> Aggregate | None:
        """The aggregate kept under `aggregate_id` (None: known not to exist); KeyError."""
        self._entries.move_to_end(aggregate_id)
        return self._entries[aggregate_id]

    def update(self, entries: dict[UUID, Aggregate | None]) -> None:
        self._entries.update(entries)
        for aggregate_id in entries:
            self._entries.move_to_end(aggregate_id)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


class Batch:
    """One unit of work opened by `batch()`: the commands run in it and what they did.

    - Loads go through an identity map: an aggregate a command of the batch changed (or
      loaded, or found missing) is served from the map, so later commands see earlier
      ones; with an `IdentityMap` carried from earlier batches, so are theirs. Each
      command gets its own copies, so a refused command (its handler raised) leaves the
      map exactly as it was; within one command, loading an id twice gives the same
      object.
    - Events are kept in command order and saved together on leaving the block, in one
      `save()` (one transaction, snapshots taken as usual). Results carry position 0
      until then; the save fills in each result's position (the global position of the
      last event its command recorded). A command that recorded nothing answers the
      position of its aggregate's current version (after the save, if the batch changed
      it).
    - A store conflict on the save (a concurrent writer) raises ConcurrencyConflictError
      and saves nothing; rerun the batch.
    """

    def __init__(self, app: CommandBase, identity: IdentityMap | None = None) -> None:
        self.app = app
        self.identity = identity
        self.results: list[CommandResult] = []
        self.refused = 0
        self.recordings: list[Recording[UUID]] = []
        self._known: dict[UUID, Aggregate | None] = {}
        self._changed: dict[UUID, Aggregate] = {}
        self._last_event: dict[UUID, int] = {}
        self._events: list[Any] = []
        self._unplaced: list[tuple[CommandResult, int]] = []
        self._scope: dict[UUID, Aggregate | None] | None = None

    @property
    def commands(self) -> int:
        """Commands the batch has accepted so far."""
        return len(self.results)

    @property
    def events(self) -> int:
        """Events the batch holds (saved on leaving the block)."""
        return len(self._events)

    def load(self, aggregate_id: UUID, loader: Callable[[], Aggregate]) -> Aggregate:
        """The aggregate as the batch knows it, else as stored; AggregateNotFoundError."""
        scope = self._scope
        found: Aggregate | None
        if scope is not None and aggregate_id in scope:
            found = scope[aggregate_id]
        elif aggregate_id in self._known:
            known = self._known[aggregate_id]
            found = None if known is None else _clone(known)
        elif self.identity is not None and aggregate_id in self.identity:
            known = self.identity.get(aggregate_id)
            found = None if known is None else _clone(known)
        else:
            try:
                found = loader()
            except AggregateNotFoundError:
                found = None
        if scope is not None:
            scope[aggregate_id] = found
        if found is None:
            raise AggregateNotFoundError(aggregate_id)
        return found

    def run(self, meta: Meta, clock: Clock, handler: Callable[[], Outcome]) -> CommandResult:
        self._scope = {}
        try:
            with acting(meta.actor, now=clock(), occurred_at=meta.occurred_at):
                outcome = handler()
        except DomainError:
            self.refused += 1
            raise
        finally:
            scope, self._scope = self._scope, None
        saved = {a.id for a in outcome.aggregates}
        for aggregate_id, found in scope.items():
            # A loaded aggregate changed but not handed back would not be saved: forget it.
            if found is None or (aggregate_id not in saved and not found.pending_events):
                self._known[aggregate_id] = found
        first = len(self._events)
        for aggregate in outcome.aggregates:
            for event in aggregate.collect_events():
                self._last_event[aggregate.id] = len(self._events)
                self._events.append(event)
            self._known[aggregate.id] = aggregate
            self._changed[aggregate.id] = aggregate
        primary = outcome.primary
        result = CommandResult(
            id=primary.id, version=primary.version, position=0, extra=outcome.extra
        )
        if len(self._events) > first:
            self._unplaced.append((result, len(self._events) - 1))
        elif primary.id in self._last_event:
            self._unplaced.append((result, self._last_event[primary.id]))
        else:
            _place(result, self.app._position_of(primary.id, primary.version))
        self.results.append(result)
        return result

    def commit(self) -> None:
        """Save every event of the batch in one transaction and place the results."""
        if self._events:
            try:
                self.recordings = self._save()
            except IntegrityError:
                if self.identity is not None:
                    self.identity.clear()
                raise ConcurrencyConflictError(
                    f"a batch of {self.commands} commands met a concurrent change; nothing "
                    "was saved; run it again"
                ) from None
            for result, index in self._unplaced:
                _place(result, self.recordings[index].notification.id)
        if self.identity is not None:
            self.identity.update(self._known)

    def _save(self) -> list[Recording[UUID]]:
        """`Application.save` of the batch's events in command order; the events are
        handed over already collected (the library's save would check each one against
        its runtime protocols, which costs more than the insert)."""
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        processing.events = list(self._events)
        processing.aggregates = dict(self._changed)
        recordings = self.app._record(processing)
        self.app._take_snapshots(processing)
        self.app._notify(recordings)
        self.app.notify(processing.events)
        return recordings


_active_batch: ContextVar[Batch | None] = ContextVar("gridledger_batch", default=None)


def _place(result: CommandResult, position: int) -> None:
    object.__setattr__(result, "position", position)


_ATOMS = (str, int, float, bool, UUID, datetime, date, Decimal, type(None))


def _clone(aggregate: A) -> A:
    """A copy of `aggregate` that shares nothing mutable with it (faster than deepcopy:
    state is JSON-like, so dicts and lists are copied and immutable values shared)."""
    twin = object.__new__(type(aggregate))
    twin.__dict__.update({name: _copied(value) for name, value in vars(aggregate).items()})
    return twin


def _copied(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {k: _copied(v) for k, v in value.items()}
    if kind is list:
        return [_copied(v) for v in value]
    if isinstance(value, _ATOMS):
        return value
    if kind is tuple:
        return tuple(_copied(v) for v in value)
    return copy.deepcopy(value)


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
        # What one command mixin calls on another; `Governance` combines them all.
        def jurisdiction(self, code: str) -> Jurisdiction: ...
        def community_of(self, code: str) -> str: ...
        def require_kind(self, code: str, *kinds: Kind) -> Jurisdiction: ...
        def member(self, member_id: UUID | str) -> Member: ...
        def require_rule(self, community: str, rule_code: str, trigger: str) -> None: ...
        def _automatic_awards(
            self,
            *,
            trigger: str,
            community: str,
            member_id: UUID,
            source_kind: str,
            source_id: str,
            rule_code: str | None = None,
        ) -> list[Aggregate]: ...
        def _automatic_rules(
            self, trigger: str, community: str, rule_code: str | None
        ) -> list[Rule]: ...
        def _award_automatically(
            self,
            rules: list[Rule],
            community: str,
            member_id: UUID,
            source_kind: str,
            source_id: str,
        ) -> list[Aggregate]: ...

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
        if _active_batch.get() is not None:
            raise BatchUsageError("a batch is already open here; batches do not nest")
        work = Batch(self, identity)
        token = _active_batch.set(work)
        try:
            yield work
        finally:
            _active_batch.reset(token)
        work.commit()

    def _open_batch(self) -> Batch | None:
        work = _active_batch.get()
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
        args: dict[str, Any],
        handler: Callable[[], Outcome],
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
        accepted = () if key is None else _fingerprints(command, args, self._digest_key())
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
                to_save = list(outcome.aggregates)
                if key is not None:
                    to_save.append(
                        IdempotencyRecord(
                            actor_id=meta.actor.id,
                            key=key,
                            fingerprint=fingerprint,
                            result_id=outcome.primary.id,
                            result_version=outcome.primary.version,
                            extra=outcome.extra,
                        )
                    )
            try:
                recordings = self.save(*to_save)
            except IntegrityError:
                earlier = answered_before()
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

    def _digest_key(self) -> bytes | None:
        return None if self.personal is None else self.personal.digest_key()

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


def _canonical(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).isoformat()
    return str(value)


KEYED = "hmac-sha256:"


def _fingerprints(command: str, args: dict[str, Any], secret: bytes | None) -> tuple[str, ...]:
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


def _body(command: str, args: dict[str, Any]) -> bytes:
    body = json.dumps([command, args], sort_keys=True, default=_canonical, ensure_ascii=False)
    return body.encode()


def _fingerprint(command: str, args: dict[str, Any]) -> str:
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
