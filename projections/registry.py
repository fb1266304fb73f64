"""Every projection gridledger runs, by name."""

from __future__ import annotations

from projections.engine import Projection
from projections.families.audit import AuditJournal
from projections.families.tickets import Tickets
from projections.families.tickets_timeline import TicketTimeline


def all_projections() -> dict[str, Projection]:
    projections: list[Projection] = [AuditJournal(), Tickets(), TicketTimeline()]
    return {p.name: p for p in projections}
