"""Small helpers the query-table families share."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from psycopg import sql

METADATA = frozenset(
    {
        "originator_id",
        "originator_version",
        "timestamp",
        "actor_id",
        "actor_role",
        "occurred_at",
        "originator_topic",
    }
)

KEYS = sql.SQL("ARRAY['timestamp', 'actor_id', 'actor_role', 'occurred_at', 'originator_topic']")
"""The keys of an event's stored JSON that are its envelope, not its details (an SQL
array, to subtract them from the JSON inside the database)."""


def _plain(value: Any) -> Any:
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot encode {type(value).__name__}")


def payload(event: Any) -> dict[str, Any]:
    """The event's own fields (not its metadata), as plain JSON-ready values."""
    return {k: v for k, v in vars(event).items() if k not in METADATA}


_ENCODER = json.JSONEncoder(default=_plain, ensure_ascii=False, sort_keys=True)


def to_json(value: Any) -> str:
    return _ENCODER.encode(value)


def event_name(event: Any) -> str:
    return type(event).__name__


def aggregate_type(event: Any) -> str:
    return type(event).__qualname__.split(".")[0]
