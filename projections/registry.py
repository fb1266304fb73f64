"""Every projection gridledger runs, by name."""

from __future__ import annotations

from projections.engine import Projection
from projections.families.audit import AuditJournal


def all_projections() -> dict[str, Projection]:
    projections: list[Projection] = [AuditJournal()]
    return {p.name: p for p in projections}
