"""Ticket timelines: one row per ticket event, append-only, in global order.

`GET /v1/tickets/{id}/timeline` reads it by `(ticket_id, version)`. `details` is the
event's own fields as plain JSON (UUIDs and times as strings), without the metadata
that has its own columns.
"""

from __future__ import annotations

from domain.ticket import Ticket
from projections.engine import Batch, Projection
from projections.families.common import event_name, payload, to_json

COLUMNS = (
    "ticket_id", "position", "version", "event_type", "actor_id", "actor_role",
    "recorded_at", "occurred_at", "details",
)  # fmt: skip


class TicketTimeline(Projection):
    name = "ticket_timeline"
    schema_version = 1
    tables = {
        "ticket_timeline": (
            "CREATE TABLE IF NOT EXISTS {ticket_timeline} ("
            " ticket_id uuid NOT NULL, position bigint PRIMARY KEY, version int NOT NULL,"
            " event_type text NOT NULL, actor_id text, actor_role text,"
            " recorded_at timestamptz NOT NULL, occurred_at timestamptz,"
            " details jsonb NOT NULL)"
        ),
    }
    indexes = [
        "CREATE UNIQUE INDEX IF NOT EXISTS ticket_timeline_g{g}_stream"
        " ON {ticket_timeline} (ticket_id, version)",
    ]
    event_types = (Ticket.Event,)

    def apply(self, batch: Batch) -> None:
        batch.copy(
            "ticket_timeline",
            COLUMNS,
            (
                (
                    event.originator_id,
                    recorded.position,
                    event.originator_version,
                    event_name(event),
                    event.actor_id,
                    event.actor_role,
                    event.timestamp,
                    event.occurred_at,
                    to_json(payload(event)),
                )
                for recorded in batch.events
                for event in (recorded.event,)
            ),
        )
