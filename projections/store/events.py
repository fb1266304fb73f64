"""The events table: its one name, and its head.

The library names an application's table after the application (`Governance` ->
`governance_events`); every statement on it takes `EVENTS`, the identifier made here.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from projections.store.rendering import rendered

EVENTS_TABLE = "governance_events"
EVENTS = sql.Identifier(EVENTS_TABLE)
HEAD = rendered(sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(EVENTS))


def max_position(conn: psycopg.Connection[Any]) -> int:
    """The log's head: the greatest position recorded (0 for an empty log)."""
    row = conn.execute(HEAD).fetchone()
    return int(row[0]) if row else 0
