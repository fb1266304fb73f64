"""Units of work: `Batch` (commands saved together, in one transaction) and the
`IdentityMap` that carries what earlier batches saved."""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    ProcessingEvent,
)
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from domain.commands.outcome import CommandResult, Meta, Outcome, place
from domain.context import Clock, acting
from domain.errors import (
    ConcurrencyConflictError,
    DomainError,
)

A = TypeVar("A", bound=Aggregate)


class BatchOwner(Protocol):
    """What a batch needs of the application that opened it (`CommandBase`)."""

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]: ...
    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None: ...
    def _notify(self, recordings: list[Recording[UUID]]) -> None: ...
    def notify(self, new_events: Any) -> None: ...
    def _position_of(self, aggregate_id: UUID, version: int) -> int: ...


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

    def __init__(self, app: BatchOwner, identity: IdentityMap | None = None) -> None:
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
            place(result, self.app._position_of(primary.id, primary.version))
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
                place(result, self.recordings[index].notification.id)
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


active_batch: ContextVar[Batch | None] = ContextVar("gridledger_batch", default=None)


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
