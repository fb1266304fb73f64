"""The event store's recorders: the library's, with three changes the write side needs.

- `position_of`: the global position of a stored event (an idempotent repeat answers
  the first answer's position).
- Large saves (a simulation's or an import's batches) skip libpq's pipeline mode: over
  a Unix socket (the embedded server) a pipelined insert of more than about a
  megabyte deadlocks, the client blocked sending while the server waits to send
  results. Small saves, the common case, keep the pipeline's single round trip.
- Failing fast when the database is down. The library retries each read and write 10
  times, each attempt waiting up to the pool's whole timeout for a connection: with
  the server gone a command hung for minutes (our own retry around the library's made
  it 100 attempts). Here a call is retried at once after a dropped connection (each
  of the pool's connections the server dropped fails at once and is discarded; up to
  `ATTEMPTS`), and never once the pool has waited its whole timeout: the caller (the
  API: a 503) learns within about one timeout. `GovernanceFactory` makes these
  recorders (the snapshot store's too).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
)
from psycopg.sql import SQL, Identifier
from psycopg_pool import PoolTimeout

PIPELINE_LIMIT = 200
ATTEMPTS = 20
RETRY_WAIT = 0.02
F = TypeVar("F", bound=Callable[..., Any])


def fail_fast(method: F) -> F:
    """The library's `method` without its own retries, retried after a dropped
    connection, at most ATTEMPTS times, never after a pool timeout."""
    inner: Callable[..., Any] = getattr(method, "__wrapped__", method)

    @wraps(inner)
    def call(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return inner(*args, **kwargs)
            except (InterfaceError, OperationalError) as error:
                if attempt == ATTEMPTS or isinstance(error.__cause__, PoolTimeout):
                    raise
                time.sleep(RETRY_WAIT)
        raise AssertionError("unreachable")

    return cast(F, call)


class SnapshotRecorder(PostgresAggregateRecorder):
    """The snapshot store's recorder, failing fast."""

    insert_events = fail_fast(PostgresAggregateRecorder.insert_events)
    select_events = fail_fast(PostgresAggregateRecorder.select_events)


class GovernanceRecorder(PostgresApplicationRecorder):
    def position_of(self, originator_id: UUID, version: int) -> int | None:
        statement = SQL(
            "SELECT notification_id FROM {0}.{1} "
            "WHERE originator_id = %s AND originator_version = %s"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(statement, (originator_id, version), prepare=True)
            row = curs.fetchone()
        return None if row is None else int(row["notification_id"])

    select_events = fail_fast(PostgresApplicationRecorder.select_events)
    select_notifications = fail_fast(PostgresApplicationRecorder.select_notifications)
    max_notification_id = fail_fast(PostgresApplicationRecorder.max_notification_id)

    @fail_fast
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if len(stored_events) <= PIPELINE_LIMIT or self.datastore.enable_db_functions:
            library: Callable[..., Sequence[int] | None]
            library = PostgresApplicationRecorder.insert_events.__wrapped__
            return library(self, stored_events, **kwargs)
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._insert_events(curs, stored_events, **kwargs)
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)


class GovernanceFactory(PostgresFactory):
    """The library's PostgreSQL persistence, with the recorders above."""

    aggregate_recorder_class = SnapshotRecorder
    application_recorder_class = GovernanceRecorder
