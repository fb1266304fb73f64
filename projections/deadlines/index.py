"""The deadline index: every open deadline in the log, kept by following it.

One row per open deadline (a ticket's response or resolution, a pledge's due date),
removed when the deadline is met, missed (the overdue event is recorded) or moot.
The index and its position are written in one transaction, so it resumes exactly
where it stopped. The deadline watcher reads it to know what has fallen due.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.utils import get_topic
from psycopg import sql

from domain.application import Governance
from domain.calendar import end_of_local_day
from domain.pledge import Pledge
from domain.ticket import Ticket
from projections.store.events import EVENTS
from projections.store.rendering import rendered

RESPONSE, RESOLUTION, PLEDGE_DUE = "ticket.response", "ticket.resolution", "pledge.due"
_AFTER = rendered(
    sql.SQL(
        "SELECT notification_id, originator_id, topic FROM {}"
        " WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
    ).format(EVENTS)
)
"""The events after a position, a batch of them."""

DDL = (
    "CREATE TABLE IF NOT EXISTS deadline_watch ("
    " aggregate_id uuid NOT NULL, kind text NOT NULL, due_at timestamptz NOT NULL,"
    " PRIMARY KEY (aggregate_id, kind))",
    "CREATE INDEX IF NOT EXISTS deadline_watch_due_idx ON deadline_watch (due_at)",
    "CREATE TABLE IF NOT EXISTS deadline_watch_position ("
    " id boolean PRIMARY KEY DEFAULT true CHECK (id), position bigint NOT NULL)",
    "INSERT INTO deadline_watch_position (id, position) VALUES (true, 0) ON CONFLICT DO NOTHING",
)
"""The DDL of this module's tables (idempotent), applied by `migrate` (see
`projections.registry.SCHEMA`)."""

_TOPICS = {
    f"{Ticket.__module__}:{Ticket.__qualname__}.": Ticket,
    f"{Pledge.__module__}:{Pledge.__qualname__}.": Pledge,
}
DEADLINE_NEUTRAL = frozenset(
    {"Accepted", "Dispatched", "Escalated", "Supervised", "Rated", "Visited"}
)
"""Ticket events that change nothing `open_deadlines` reads (a status into or out of
rejected and closed, the response and resolution times, the due times, the overdue
flags): the index need not load a ticket for them. `tests/unit/test_deadline_events.py`
walks tickets' lives to show it, and fails on an event it has not been told about."""
_NEUTRAL_TOPICS = frozenset(get_topic(getattr(Ticket, name)) for name in DEADLINE_NEUTRAL)


def open_deadlines(aggregate: Any) -> dict[str, datetime]:
    """The deadlines still open on a ticket or pledge, by kind."""
    if isinstance(aggregate, Ticket):
        if aggregate.status in ("rejected", "closed"):
            return {}
        due: dict[str, datetime] = {}
        if aggregate.responded_at is None and not aggregate.response_overdue:
            due[RESPONSE] = aggregate.respond_due_at
        if aggregate.resolved_at is None and not aggregate.resolution_overdue:
            due[RESOLUTION] = aggregate.resolve_due_at
        return due
    if isinstance(aggregate, Pledge) and aggregate.status in ("pledged", "accepted"):
        return {PLEDGE_DUE: end_of_local_day(aggregate.due_on)}
    return {}


class DeadlineIndex:
    def __init__(self, url: str, governance: Governance, batch_size: int = 1000) -> None:
        self.url = url
        self.governance = governance
        self.batch_size = batch_size
        self._conn: psycopg.Connection[Any] | None = None

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The index's connection, kept between calls (a watcher catches up every
        second); one that failed is closed, and the next call opens another."""
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.url)
        try:
            yield self._conn
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def catch_up(self) -> int:
        """Follow the log to its end; answer the position reached."""
        with self._connection() as conn:
            while True:
                with conn.transaction():
                    conn.execute(
                        "INSERT INTO deadline_watch_position (id, position) VALUES (true, 0)"
                        " ON CONFLICT DO NOTHING"
                    )
                    row = conn.execute(
                        "SELECT position FROM deadline_watch_position FOR UPDATE"
                    ).fetchone()
                    position = row[0] if row else 0
                    rows = conn.execute(_AFTER, (position, self.batch_size)).fetchall()
                    if not rows:
                        return int(position)
                    touched = {r[1] for r in rows if _watched(r[2])}
                    self._refresh(conn, touched)
                    conn.execute("UPDATE deadline_watch_position SET position = %s", (rows[-1][0],))

    def _refresh(self, conn: psycopg.Connection[Any], ids: Iterable[UUID]) -> None:
        """Replace the rows of each aggregate in `ids` by its open deadlines now (two
        statements for them all)."""
        ids = list(ids)
        if not ids:
            return
        rows = [
            (aggregate_id, kind, due_at)
            for aggregate_id in ids
            for kind, due_at in open_deadlines(self.governance.repository.get(aggregate_id)).items()
        ]
        conn.execute("DELETE FROM deadline_watch WHERE aggregate_id = ANY(%s)", (ids,))
        if rows:
            conn.execute(
                "INSERT INTO deadline_watch (aggregate_id, kind, due_at)"
                " SELECT * FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[])",
                ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
            )

    def fallen_due(self, now: datetime, limit: int = 500) -> list[tuple[UUID, str]]:
        with self._connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT aggregate_id, kind FROM deadline_watch WHERE due_at < %s"
                " ORDER BY due_at, aggregate_id, kind LIMIT %s",
                (now, limit),
            ).fetchall()
        return [(r[0], r[1]) for r in rows]


def _watched(topic: str) -> bool:
    """Whether an event of `topic` may change its aggregate's open deadlines."""
    return topic not in _NEUTRAL_TOPICS and any(topic.startswith(prefix) for prefix in _TOPICS)
