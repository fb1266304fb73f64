"""Ticket rows as the tickets projection writes them, for the Open311 tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from domain.ticket_policy import TicketPolicy

REPORTED_AT = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)


def ticket_row(**changes: Any) -> dict[str, Any]:
    """A `tickets` row as the projection writes it: reported, then `changes`."""
    row: dict[str, Any] = {
        "id": UUID("0b7c5d9e-3f51-4a8e-9d5c-2f1a4e6b7c80"),
        "status": "reported",
        "category": "sanitation",
        "grid": "HG-WH-BH-01",
        "level": None,
        "assignee": None,
        "source": "resident",
        "priority": "normal",
        "reported_at": REPORTED_AT,
        "respond_due_at": REPORTED_AT + timedelta(hours=1),
        "responded_at": None,
        "resolve_due_at": REPORTED_AT + timedelta(hours=72),
        "resolved_at": None,
        "closed_at": None,
        "satisfaction": None,
        "response_overdue": False,
        "resolution_overdue": False,
        "version": 1,
        "community": "HG-WH-BH",
        "street": "HG-WH",
        "district": "HG",
        "grid_path": ["HG", "HG-WH", "HG-WH-BH", "HG-WH-BH-01"],
        "description": "楼道堆物",
        "reporter_member_id": UUID("5f0c2a10-0000-4000-8000-00000000beef"),
        "location": {"address": "北环路 3 号", "lat": 39.93, "lon": 119.6},
        "dispatched_at": None,
        "resolution": None,
        "rating_comment": None,
        "rejection_reason": None,
        "duplicate_of": None,
        "reopen_count": 0,
        "escalation_count": 0,
        "supervision_count": 0,
        "visit_count": 0,
        "resolution_overdue_count": 0,
        "last_position": 7,
        "updated_at": REPORTED_AT,
    }
    row.update(changes)
    return row


POLICY = TicketPolicy(
    by_category={"safety_hazard": {"normal": timedelta(hours=24), "urgent": timedelta(hours=4)}}
)
