"""The event store's recorder: the library's, with two additions the write side needs.

- `position_of`: the global position of a stored event (an idempotent repeat answers
  the first answer's position).
- Large saves (a simulation's or an import's batches) skip libpq's pipeline mode: over
  a Unix socket (the embedded server) a pipelined insert of more than about a
  megabyte deadlocks, the client blocked sending while the server waits to send
  results. Small saves, the common case, keep the pipeline's single round trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

PIPELINE_LIMIT = 200


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

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if len(stored_events) <= PIPELINE_LIMIT or self.datastore.enable_db_functions:
            return super().insert_events(stored_events, **kwargs)
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            self._insert_events(curs, stored_events, **kwargs)
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
